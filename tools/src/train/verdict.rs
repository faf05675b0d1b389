//! What a validation ESR means to a guitarist, on the NAM trainer's scale
//! (the thresholds its own training script prints a comment for).

/// ESR thresholds and their meaning, best first: an ESR below the threshold
/// gets the words.
const SCALE: [(f64, &str); 4] = [
    (0.01, "great"),
    (0.035, "not bad"),
    (0.1, "might sound OK"),
    (0.3, "probably will not sound great"),
];

/// The words for an ESR above every threshold (or not a number).
const WRONG: &str = "something seems to have gone wrong";

/// The meaning of validation ESR `esr` on the NAM trainer's scale.
pub fn esr_verdict(esr: f64) -> &'static str {
    SCALE
        .iter()
        .find(|(threshold, _)| esr < *threshold)
        .map_or(WRONG, |(_, words)| words)
}

/// The scale itself, for a summary line: "below 0.01 great, ...".
pub fn esr_scale() -> String {
    let steps: Vec<String> = SCALE
        .iter()
        .map(|(threshold, words)| format!("below {threshold} {words}"))
        .collect();
    format!("{}, above: {WRONG}", steps.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_band_of_the_scale_has_its_words() {
        assert_eq!(esr_verdict(0.0), "great");
        assert_eq!(esr_verdict(0.0099), "great");
        assert_eq!(esr_verdict(0.01), "not bad");
        assert_eq!(esr_verdict(0.0349), "not bad");
        assert_eq!(esr_verdict(0.05), "might sound OK");
        assert_eq!(esr_verdict(0.2), "probably will not sound great");
        assert_eq!(esr_verdict(0.3), WRONG);
        assert_eq!(esr_verdict(7.0), WRONG);
        assert_eq!(esr_verdict(f64::NAN), WRONG);
        assert!(esr_scale().starts_with("below 0.01 great, below 0.035 not bad"));
    }
}
