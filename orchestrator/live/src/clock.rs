//! The shell's clock.
//!
//! In live mode the core's time is milliseconds since the Unix epoch. The
//! clock reads the system clock once, when it is made, and from then on
//! counts a monotonic clock forward from there, so the time it gives never
//! runs backwards even if the system clock is set back. A clock can run
//! faster than the wall clock (the demo's `--speed N`): every `now` and
//! every timer of the shell then comes from the same scaled clock, so the
//! core, the master control and the simulated vehicles all see one time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use borderlane_model::Ms;
use tokio::time::Instant;

/// The longest a timer sleeps in one go. A timer further off than this
/// wakes early and is simply set again, which keeps far-off deadlines (or
/// "never") from overflowing the arithmetic of instants.
const LONGEST_SLEEP: Duration = Duration::from_secs(3_600);

/// A clock in milliseconds since the Unix epoch, running `speed` times as
/// fast as the wall clock.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
    origin_ms: Ms,
    speed: f64,
}

impl Clock {
    /// The wall clock.
    pub fn wall() -> Clock {
        Clock::scaled(1.0)
    }

    /// A clock that starts at the wall clock's time and runs `speed` times
    /// as fast. A speed that is not a positive finite number is taken as 1.
    pub fn scaled(speed: f64) -> Clock {
        let origin_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis().min(u128::from(Ms::MAX / 2)) as Ms)
            .unwrap_or(0);
        Clock::starting_at(origin_ms, speed)
    }

    /// A clock that reads `origin_ms` now and runs `speed` times as fast as
    /// the wall clock.
    pub fn starting_at(origin_ms: Ms, speed: f64) -> Clock {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        Clock {
            origin: Instant::now(),
            origin_ms,
            speed,
        }
    }

    /// How many times faster than the wall clock this clock runs.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// The time this clock started at.
    pub fn origin_ms(&self) -> Ms {
        self.origin_ms
    }

    /// The current time.
    pub fn now(&self) -> Ms {
        let elapsed = self.origin.elapsed().as_secs_f64() * 1_000.0 * self.speed;
        self.origin_ms.saturating_add(elapsed as Ms)
    }

    /// The wall-clock instant at which this clock reads `at`, or at most
    /// [`LONGEST_SLEEP`] from now, whichever comes first.
    pub fn instant_at(&self, at: Ms) -> Instant {
        let now = Instant::now();
        let latest = now + LONGEST_SLEEP;
        let Some(ahead) = at.checked_sub(self.origin_ms) else {
            return self.origin.min(now);
        };
        let wall_secs = ahead as f64 / 1_000.0 / self.speed;
        match Duration::try_from_secs_f64(wall_secs) {
            Ok(d) => self.origin.checked_add(d).unwrap_or(latest).min(latest),
            Err(_) => latest,
        }
    }

    /// How long, on the wall clock, a span of `ms` of this clock lasts.
    pub fn wall_duration(&self, ms: Ms) -> Duration {
        Duration::try_from_secs_f64(ms as f64 / 1_000.0 / self.speed).unwrap_or(LONGEST_SLEEP)
    }

    /// Sleeps until this clock reads `at` (or for [`LONGEST_SLEEP`], if
    /// that is sooner).
    pub async fn sleep_until(&self, at: Ms) {
        tokio::time::sleep_until(self.instant_at(at)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaled_clock_maps_its_times_to_earlier_instants() {
        let c = Clock::starting_at(1_000_000, 10.0);
        let i = c.instant_at(1_010_000);
        // Ten seconds of the clock are one second of the wall clock.
        let d = i.duration_since(c.origin);
        assert_eq!(d, Duration::from_secs(1));
        assert_eq!(c.wall_duration(10_000), Duration::from_secs(1));
    }

    #[test]
    fn far_and_past_deadlines_do_not_overflow() {
        let c = Clock::starting_at(5_000, 1.0);
        let never = c.instant_at(Ms::MAX);
        assert!(never <= Instant::now() + LONGEST_SLEEP);
        let past = c.instant_at(0);
        assert!(past <= Instant::now());
    }

    #[test]
    fn bad_speeds_mean_the_wall_clock() {
        assert_eq!(Clock::starting_at(0, f64::NAN).speed(), 1.0);
        assert_eq!(Clock::starting_at(0, -3.0).speed(), 1.0);
        assert_eq!(Clock::starting_at(0, 0.0).speed(), 1.0);
    }

    #[test]
    fn now_starts_at_the_origin_and_never_goes_back() {
        let c = Clock::starting_at(42, 100.0);
        let a = c.now();
        let b = c.now();
        assert!(a >= 42 && b >= a);
    }
}
