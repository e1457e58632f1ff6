//! Reading a map from GeoJSON (RFC 7946).

use super::{MapError, MapParts};

pub(crate) fn parse(_text: &str) -> Result<MapParts, MapError> {
    Err(MapError::Syntax(
        "GeoJSON reading is not implemented yet".into(),
    ))
}
