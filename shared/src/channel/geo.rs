//! Coordinate datums. orderhub stores GCJ-02 (see [`crate::order::GeoPoint`]): WGS-84
//! (raw GPS) is converted forward with the standard published transform, BD-09
//! (Baidu) back with its standard inverse.

use std::f64::consts::PI;

use crate::order::GeoPoint;

const A: f64 = 6_378_245.0; // Krasovsky 1940 semi-major axis, as the transform defines it
const EE: f64 = 0.006_693_421_622_965_943; // its first eccentricity squared

/// Outside mainland China the transform is the identity (the platforms do the same).
pub fn outside_china(lat: f64, lng: f64) -> bool {
    !(72.004..=137.8347).contains(&lng) || !(0.8293..=55.8271).contains(&lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn transform_lng(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// WGS-84 → GCJ-02.
pub fn wgs84_to_gcj02(lat: f64, lng: f64) -> GeoPoint {
    if outside_china(lat, lng) {
        return GeoPoint { lat, lng };
    }
    let mut d_lat = transform_lat(lng - 105.0, lat - 35.0);
    let mut d_lng = transform_lng(lng - 105.0, lat - 35.0);
    let rad_lat = lat / 180.0 * PI;
    let magic = 1.0 - EE * rad_lat.sin() * rad_lat.sin();
    let sqrt_magic = magic.sqrt();
    d_lat = (d_lat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    d_lng = (d_lng * 180.0) / (A / sqrt_magic * rad_lat.cos() * PI);
    GeoPoint {
        lat: lat + d_lat,
        lng: lng + d_lng,
    }
}

/// BD-09 → GCJ-02 (Baidu's offset on top of GCJ-02, removed).
pub fn bd09_to_gcj02(lat: f64, lng: f64) -> GeoPoint {
    const X_PI: f64 = PI * 3000.0 / 180.0;
    let x = lng - 0.0065;
    let y = lat - 0.006;
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    GeoPoint {
        lat: z * theta.sin(),
        lng: z * theta.cos(),
    }
}

/// A plausible coordinate (finite, on Earth, not the 0,0 "unknown" placeholder).
pub fn is_plausible(lat: f64, lng: f64) -> bool {
    lat.is_finite()
        && lng.is_finite()
        && lat.abs() <= 90.0
        && lng.abs() <= 180.0
        && !(lat == 0.0 && lng == 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wgs84_to_gcj02_matches_published_vectors() {
        // Reference vectors of the standard transform (as used by eviltransform's tests).
        for (wlat, wlng, glat, glng) in [
            (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
            (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
            (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
        ] {
            let p = wgs84_to_gcj02(wlat, wlng);
            assert!(
                (p.lat - glat).abs() < 1e-7 && (p.lng - glng).abs() < 1e-7,
                "{p:?} vs {glat},{glng}"
            );
        }
    }

    #[test]
    fn outside_china_is_identity_and_bd09_round_trips_closely() {
        assert_eq!(
            wgs84_to_gcj02(48.85, 2.35),
            GeoPoint {
                lat: 48.85,
                lng: 2.35
            }
        );
        // Baidu's offset is about +0.006 lat / +0.0065 lng around Beijing.
        let g = bd09_to_gcj02(39.915, 116.404);
        assert!(
            (g.lat - 39.909).abs() < 2e-3 && (g.lng - 116.3975).abs() < 2e-3,
            "{g:?}"
        );
    }
}
