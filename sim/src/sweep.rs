//! Statistics for `borderlane sim sweep`: the mean of a figure over seeds,
//! with a 95 % confidence interval from Student's t distribution.

use serde::Serialize;

/// A mean and the half-width of its 95 % confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MeanCi {
    pub mean: f64,
    /// Half the width of the interval: the mean is `mean ± half_width`.
    pub half_width: f64,
    pub n: usize,
}

/// Two-sided 95 % critical values of Student's t for 1 to 30 degrees of
/// freedom; beyond that the normal value is close enough.
const T95: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

impl MeanCi {
    /// The mean of `values` and its 95 % interval; the interval of a single
    /// value is 0 wide (nothing is known about the spread).
    pub fn of(values: &[f64]) -> MeanCi {
        let n = values.len();
        if n == 0 {
            return MeanCi {
                mean: f64::NAN,
                half_width: f64::NAN,
                n,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return MeanCi {
                mean,
                half_width: 0.0,
                n,
            };
        }
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let t = T95.get(n - 2).copied().unwrap_or(1.960);
        MeanCi {
            mean,
            half_width: t * (var / n as f64).sqrt(),
            n,
        }
    }
}

impl std::fmt::Display for MeanCi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = f.precision().unwrap_or(1);
        write!(f, "{:.p$} ± {:.p$}", self.mean, self.half_width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_interval() {
        let m = MeanCi::of(&[10.0, 12.0, 14.0]);
        assert_eq!(m.mean, 12.0);
        // sd = 2, n = 3, t(2) = 4.303: 4.303 * 2 / sqrt(3).
        assert!((m.half_width - 4.303 * 2.0 / 3f64.sqrt()).abs() < 1e-9);
        assert_eq!(MeanCi::of(&[5.0]).half_width, 0.0);
        assert!(MeanCi::of(&[]).mean.is_nan());
        assert_eq!(format!("{:.2}", MeanCi::of(&[1.0, 1.0])), "1.00 ± 0.00");
    }
}
