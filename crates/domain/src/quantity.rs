//! How quantities are written: kilograms to a tenth, the precision the entries record them in;
//! counts of parts are whole already.

/// `kg` to the domain's precision, a tenth of a kilogram: sums and differences of weights carry
/// binary noise (`1166.6000000000004`, `10.199999999999818`) that no output shows. Figures are
/// kept exact and rounded where they are written, so that sums and balance checks are not thrown
/// off by rounding. Never `-0.0`, which prints as "-0.0".
pub fn tenths(kg: f64) -> f64 {
    (kg * 10.0).round() / 10.0 + 0.0
}

/// Writes a figure in kilograms to a tenth ([`tenths`]); for `#[serde(serialize_with)]`.
pub fn serialize_tenths<S: serde::Serializer>(kg: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(tenths(*kg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_of_weights_is_written_to_a_tenth() {
        assert_eq!(tenths(3360.2 - 3350.0), 10.2);
        assert_eq!(tenths(1166.6000000000004), 1166.6);
        assert_eq!(tenths(-0.04).to_string(), "0");
        let json = serde_json::to_string(&Wrapper(3360.2 - 3350.0)).unwrap();
        assert_eq!(json, "10.2");
    }

    #[derive(serde::Serialize)]
    struct Wrapper(#[serde(serialize_with = "serialize_tenths")] f64);
}
