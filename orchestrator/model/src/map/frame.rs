//! The local metric frame: WGS84 longitude/latitude to metres east and north
//! of an origin, by an equirectangular projection on a tangent plane. Over the
//! few kilometres of the lane its error is far below the map's own accuracy.

use serde::{Deserialize, Serialize};

use super::Point;

/// Mean Earth radius in metres (IUGG).
const EARTH_RADIUS_M: f64 = 6_371_008.8;

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalFrame {
    /// Origin longitude in degrees.
    pub lon0: f64,
    /// Origin latitude in degrees.
    pub lat0: f64,
}

impl LocalFrame {
    pub fn new(lon0: f64, lat0: f64) -> LocalFrame {
        LocalFrame { lon0, lat0 }
    }

    /// Projects WGS84 degrees to local metres.
    pub fn to_local(&self, lon: f64, lat: f64) -> Point {
        let k = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
        Point::new(
            (lon - self.lon0) * k * self.lat0.to_radians().cos(),
            (lat - self.lat0) * k,
        )
    }

    /// Projects local metres back to WGS84 degrees `(lon, lat)`.
    pub fn to_wgs84(&self, p: Point) -> (f64, f64) {
        let k = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
        (
            self.lon0 + p.x / (k * self.lat0.to_radians().cos()),
            self.lat0 + p.y / k,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_scales() {
        let f = LocalFrame::new(107.95, 21.54);
        let p = f.to_local(107.96, 21.55);
        // 0.01 degree of latitude is about 1.11 km.
        assert!((p.y - 1111.95).abs() < 1.0, "{p:?}");
        let (lon, lat) = f.to_wgs84(p);
        assert!((lon - 107.96).abs() < 1e-9 && (lat - 21.55).abs() < 1e-9);
    }
}
