//! Where customers live: residential communities (小区) in Shanghai, each with a
//! group-buying leader and a pickup point at its gate. A customer's door is one flat in
//! one building; the same customer always orders to the same door, spelled the same way
//! on every channel, with the same GCJ-02 pin.

use crate::mix::Customer;

/// (district, road and number of the community, name, gate latitude, gate longitude).
const COMMUNITIES: [(&str, &str, &str, f64, f64); 12] = [
    (
        "浦东新区",
        "张江路 88 弄",
        "张江花园",
        31.204055,
        121.591101,
    ),
    (
        "浦东新区",
        "金桥路 1200 弄",
        "金桥新村",
        31.258420,
        121.588010,
    ),
    (
        "徐汇区",
        "漕溪北路 331 弄",
        "漕溪公寓",
        31.190370,
        121.436720,
    ),
    ("徐汇区", "龙华西路 158 弄", "龙华苑", 31.176850, 121.449200),
    ("长宁区", "天山路 600 弄", "天山新村", 31.212300, 121.401200),
    (
        "静安区",
        "共和新路 2000 弄",
        "大宁家园",
        31.278650,
        121.456990,
    ),
    ("闵行区", "幸福路 88 弄", "幸福小区", 31.110400, 121.380900),
    ("闵行区", "莘松路 958 弄", "莘城苑", 31.113650, 121.376500),
    ("杨浦区", "国定路 335 弄", "国定小区", 31.300120, 121.506330),
    (
        "普陀区",
        "曹杨路 1040 弄",
        "曹杨新村",
        31.244280,
        121.417230,
    ),
    (
        "宝山区",
        "牡丹江路 1211 弄",
        "牡丹苑",
        31.405540,
        121.489160,
    ),
    ("虹口区", "四平路 421 弄", "四平小区", 31.268880, 121.497370),
];

pub const COMMUNITY_COUNT: usize = COMMUNITIES.len();

const SURNAMES: [&str; 16] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
];
pub const SURNAME_COUNT: usize = SURNAMES.len();

/// A delivery address as the own channels send it (parts) and as the platforms do (one
/// string).
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    pub district: &'static str,
    pub detail: String,
    pub lat: f64,
    pub lng: f64,
}

impl Address {
    pub const PROVINCE: &'static str = "上海市";
    pub const CITY: &'static str = "上海市";

    /// `上海市 浦东新区 张江路 88 弄 3 号 1201`, the way Meituan and Ele.me spell it.
    pub fn full(&self) -> String {
        format!("{} {} {}", Self::PROVINCE, self.district, self.detail)
    }

    /// The own channels' structured form.
    pub fn parts(&self) -> serde_json::Value {
        serde_json::json!({
            "province": Self::PROVINCE, "city": Self::CITY, "district": self.district,
            "detail": self.detail, "lat": self.lat, "lng": self.lng, "datum": "gcj02"
        })
    }
}

/// The customer's own door.
pub fn home(c: &Customer) -> Address {
    let (district, road, _, lat, lng) = COMMUNITIES[c.community % COMMUNITY_COUNT];
    // Buildings stand ~30 m apart along the lane: distinct pins per building, one
    // pin per door.
    let offset = f64::from(c.building) * 0.0003;
    Address {
        district,
        detail: format!("{road} {} 号 {}", c.building, c.room),
        lat: round6(lat + offset),
        lng: round6(lng + offset / 2.0),
    }
}

/// The community's pickup point (at its gate) and its name.
pub fn pickup_point(community: usize) -> (Address, String) {
    let (district, road, name, lat, lng) = COMMUNITIES[community % COMMUNITY_COUNT];
    (
        Address {
            district,
            detail: format!("{road} 1 号门"),
            lat,
            lng,
        },
        format!("{name} 1 号门"),
    )
}

pub fn name(c: &Customer) -> String {
    let title = if c.female { "女士" } else { "先生" };
    format!("{}{title}", SURNAMES[c.surname % SURNAME_COUNT])
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
