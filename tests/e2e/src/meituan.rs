//! Real-shaped Meituan Waimai pushes for end-to-end tests and load generation, signed
//! here independently of the core (see `../shared/CHANNELS.md`).

use crate::{form_encode, meituan_sig, MEITUAN_SECRET};

pub const APP_ID: &str = "6789";

/// Form parameters of an order push (`/webhooks/meituan/order`), unsigned.
/// Money adds up: goods 2×12.80 + 15.90 = 41.50, boxes 2×0.50, delivery 5.00, 满40减5
/// (platform 2.00, merchant 3.00): paid 42.50.
pub fn order_push_params(order_id: &str, ctime: i64) -> Vec<(&'static str, String)> {
    let detail = serde_json::json!([
        {"app_food_code": "MT-APPLE-1KG", "food_name": "红富士苹果 1kg", "quantity": 2, "price": 12.8,
         "box_num": 1, "box_price": 0.5, "unit": "份"},
        {"app_food_code": "MT-MILK-950", "food_name": "鲜牛奶 950ml", "quantity": 1, "price": 15.9,
         "box_num": 1, "box_price": 0.5, "unit": "瓶"}
    ]);
    let extras = serde_json::json!([
        {"act_detail_id": 10, "reduce_fee": 5.0, "mt_charge": 2.0, "poi_charge": 3.0, "remark": "满40减5", "type": 2}
    ]);
    vec![
        ("app_id", APP_ID.to_string()),
        ("timestamp", ctime.to_string()),
        ("order_id", order_id.to_string()),
        ("wm_order_id_view", order_id.to_string()),
        ("app_poi_code", "store-001".to_string()),
        ("recipient_name", "王女士".to_string()),
        (
            "recipient_address",
            "上海市 浦东新区 张江路 88 号 3 栋 1201@#上海市浦东新区张江镇".to_string(),
        ),
        ("recipient_phone", "138xxxx1234_5678".to_string()),
        ("total", "42.50".to_string()),
        ("original_price", "47.50".to_string()),
        ("shipping_fee", "5.00".to_string()),
        ("caution", "请放门口".to_string()),
        ("ctime", ctime.to_string()),
        ("utime", ctime.to_string()),
        ("delivery_time", "0".to_string()),
        ("latitude", "31204055".to_string()),
        ("longitude", "121591101".to_string()),
        ("day_seq", "12".to_string()),
        ("total_weight", "2950".to_string()),
        ("status", "2".to_string()),
        ("detail", detail.to_string()),
        ("extras", extras.to_string()),
    ]
}

/// Sign `params` for `base_url + path` and return the form body.
pub fn signed_form(base_url: &str, path: &str, mut params: Vec<(&'static str, String)>) -> String {
    let sig = meituan_sig(&format!("{base_url}{path}"), &params, MEITUAN_SECRET);
    params.push(("sig", sig));
    form_encode(&params)
}
