//! Personal data minimised: what each role sees of a customer, and the masks.
//!
//! - `cs` sees an order in full (customer service calls the customer);
//! - `admin` and `ops` see it masked: name `张*`, phone `138****1234`, address cut to
//!   its district, no platform user id, digit runs in free text masked;
//! - `finance` sees no personal data at all: no name, no phone, address cut to the
//!   district, no notes;
//! - riders and the scheduler read no orders (the route table refuses them).
//!
//! Amounts, lines, SKUs, times, ids and the history are the same in every view, so
//! counts and sums agree whoever reads them.

use super::role::Role;
use crate::order::{Address, Customer, Fulfilment, Order, Phone};

/// How much personal data a reader gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalView {
    Full,
    Masked,
    None,
}

/// The view `role` reads orders with.
pub fn view_for(role: &Role) -> PersonalView {
    match role {
        Role::Cs => PersonalView::Full,
        Role::Admin | Role::Ops => PersonalView::Masked,
        Role::Finance | Role::Scheduler | Role::Rider(_) | Role::AnyRider => PersonalView::None,
    }
}

/// What `customer_key` reads in a masked view (the real key may hold a phone number).
pub const REDACTED: &str = "redacted";

/// `13812341234` → `138****1234`: the first three and last four characters kept, every
/// one between starred; eight characters or fewer keep only the last two (`****34`),
/// and four or fewer nothing. The length is kept.
pub fn mask_phone(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let n = chars.len();
    let (head, tail) = match n {
        0..=4 => (0, 0),
        5..=8 => (0, 2),
        _ => (3, 4),
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < head || i >= n - tail { *c } else { '*' })
        .collect()
}

/// `张三丰` → `张**`: the first character kept (the family name), the rest starred.
pub fn mask_name(name: &str) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 && name.chars().count() > 1 {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// Every run of 7 or more digits in free text (a phone number in a buyer note) masked
/// as [`mask_phone`] masks it; the rest of the text kept.
pub fn mask_digit_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= 7 {
            out.push_str(&mask_phone(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The address cut to its district: province, city and district kept; the street and
/// door, the coordinates and the merge key (a normalised copy of the street) dropped.
pub fn cut_to_district(address: &Address) -> Address {
    Address {
        province: address.province.clone(),
        city: address.city.clone(),
        district: address.district.clone(),
        detail: String::new(),
        location: None,
        merge_key: String::new(),
    }
}

fn masked_phone(p: &Phone) -> Phone {
    Phone {
        number: mask_phone(&p.number),
        extension: None,
        is_privacy: p.is_privacy,
    }
}

pub(super) fn cut_fulfilment(f: &Fulfilment) -> Fulfilment {
    match f {
        Fulfilment::Delivery { address } => Fulfilment::Delivery {
            address: address.as_ref().map(cut_to_district),
        },
        Fulfilment::PickupPoint {
            point_id,
            name,
            address,
        } => Fulfilment::PickupPoint {
            point_id: point_id.clone(),
            name: name.clone(),
            address: address.as_ref().map(cut_to_district),
        },
        Fulfilment::InStore { store_id } => Fulfilment::InStore {
            store_id: store_id.clone(),
        },
    }
}

/// The order as a reader with `view` sees it.
pub fn present(order: &Order, view: PersonalView) -> Order {
    let mut o = order.clone();
    match view {
        PersonalView::Full => {}
        PersonalView::Masked => {
            o.customer = Customer {
                channel_user_id: None,
                name: order.customer.name.as_deref().map(mask_name),
                phone: order.customer.phone.as_ref().map(masked_phone),
                customer_key: REDACTED.into(),
            };
            o.fulfilment = cut_fulfilment(&order.fulfilment);
            o.buyer_note = order.buyer_note.as_deref().map(mask_digit_runs);
            for e in &mut o.exceptions {
                e.detail = mask_digit_runs(&e.detail);
            }
        }
        PersonalView::None => {
            o.customer = Customer {
                channel_user_id: None,
                name: None,
                phone: None,
                customer_key: REDACTED.into(),
            };
            o.fulfilment = cut_fulfilment(&order.fulfilment);
            o.buyer_note = None;
            for e in &mut o.exceptions {
                e.detail = mask_digit_runs(&e.detail);
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phones_are_masked_as_the_issue_says() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("+8613812341234"), "+86*******1234");
        assert_eq!(mask_phone("1234"), "****");
        assert_eq!(mask_phone("1234567"), "*****67");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("王"), "*");
        assert_eq!(
            mask_digit_runs("call 13812341234 at door 12"),
            "call 138****1234 at door 12"
        );
    }

    proptest! {
        /// Masking never leaks the middle digits of a mobile number, and keeps its length.
        #[test]
        fn masking_never_leaks_the_middle_digits(phone in "1[3-9][0-9]{9}") {
            let m = mask_phone(&phone);
            prop_assert_eq!(m.chars().count(), 11);
            prop_assert_eq!(&m[..3], &phone[..3]);
            prop_assert_eq!(&m[3..7], "****");
            prop_assert_eq!(&m[7..], &phone[7..]);
        }

        /// No run of 7+ digits survives in masked free text, whatever surrounds it.
        #[test]
        fn masked_text_holds_no_phone_number(text in "[a-z 0-9]{0,40}", phone in "1[3-9][0-9]{9}") {
            let masked = mask_digit_runs(&format!("{text} {phone} {text}"));
            let longest = masked
                .split(|c: char| !c.is_ascii_digit())
                .map(str::len)
                .max()
                .unwrap_or(0);
            prop_assert!(longest < 7, "{masked}");
        }

        /// Any phone of at least 5 characters loses at least its middle.
        #[test]
        fn any_masked_phone_hides_something(phone in "[0-9]{5,20}") {
            let m = mask_phone(&phone);
            prop_assert!(m.contains('*'));
            prop_assert_eq!(m.chars().count(), phone.chars().count());
        }
    }
}
