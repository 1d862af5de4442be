//! Retention tiers as a policy states them: [`Tier`], [`Tiers`] and their
//! limits. The plan that applies them to backups is the engine's
//! (`engine::retention::plan`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Largest accepted hourly count: one year of hours.
pub const MAX_HOURLY: u32 = 8_760;
/// Largest accepted daily count: about ten years of days.
pub const MAX_DAILY: u32 = 3_660;
/// Largest accepted weekly count: ten years of weeks.
pub const MAX_WEEKLY: u32 = 520;
/// Largest accepted monthly count: a hundred years of months.
pub const MAX_MONTHLY: u32 = 1_200;
/// Largest accepted yearly count: a hundred years.
pub const MAX_YEARLY: u32 = 100;

/// Errors from validating a retention policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    /// A tier's count is above its maximum.
    #[error(
        "{tier} retention of {value} is above the maximum of {max} ({span}); set {tier} to {max} or less{hint}",
        span = .tier.span(),
        hint = .tier.coarser_hint()
    )]
    TooMany {
        /// The offending tier.
        tier: Tier,
        /// The count that was asked for.
        value: u32,
        /// The largest count accepted for this tier.
        max: u32,
    },
}

/// One retention tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// The newest backup of each local clock hour (with its UTC offset).
    Hourly,
    /// The newest backup of each local day.
    Daily,
    /// The newest backup of each ISO week (Monday to Sunday, ISO week-year).
    Weekly,
    /// The newest backup of each local calendar month.
    Monthly,
    /// The newest backup of each local calendar year.
    Yearly,
}

impl Tier {
    /// Every tier, finest first.
    pub const ALL: [Tier; 5] = [
        Tier::Hourly,
        Tier::Daily,
        Tier::Weekly,
        Tier::Monthly,
        Tier::Yearly,
    ];

    /// The lowercase name used in messages and serialized policies.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Hourly => "hourly",
            Tier::Daily => "daily",
            Tier::Weekly => "weekly",
            Tier::Monthly => "monthly",
            Tier::Yearly => "yearly",
        }
    }

    /// The largest count [`Tiers::validate`] accepts for this tier.
    pub fn max(self) -> u32 {
        match self {
            Tier::Hourly => MAX_HOURLY,
            Tier::Daily => MAX_DAILY,
            Tier::Weekly => MAX_WEEKLY,
            Tier::Monthly => MAX_MONTHLY,
            Tier::Yearly => MAX_YEARLY,
        }
    }

    fn span(self) -> &'static str {
        match self {
            Tier::Hourly => "one year of hours",
            Tier::Daily => "about ten years of days",
            Tier::Weekly => "ten years of weeks",
            Tier::Monthly => "a hundred years of months",
            Tier::Yearly => "a hundred years",
        }
    }

    fn coarser_hint(self) -> &'static str {
        match self {
            Tier::Hourly => " and keep older backups with the daily tier",
            Tier::Daily => " and keep older backups with the weekly or monthly tier",
            Tier::Weekly => " and keep older backups with the monthly tier",
            Tier::Monthly => " and keep older backups with the yearly tier",
            Tier::Yearly => "",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How many buckets of each tier a policy keeps (0 turns a tier off): the
/// newest N hours, days, ... *that hold a successful backup*, newest first,
/// so an outage never empties a tier.
///
/// The default is 7 daily, 4 weekly and 12 monthly backups, hourly and yearly
/// off: about 21 artifacts covering a year for the default daily schedule.
/// When deserializing, a missing field takes that default (not 0), so write
/// `0` to turn a tier off; unknown fields (typos such as `dialy`) are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tiers {
    /// Newest backup of each of the N newest hours holding one (max [`MAX_HOURLY`]).
    pub hourly: u32,
    /// Newest backup of each of the N newest days holding one (max [`MAX_DAILY`]).
    pub daily: u32,
    /// Newest backup of each of the N newest ISO weeks holding one (max [`MAX_WEEKLY`]).
    pub weekly: u32,
    /// Newest backup of each of the N newest months holding one (max [`MAX_MONTHLY`]).
    pub monthly: u32,
    /// Newest backup of each of the N newest years holding one (max [`MAX_YEARLY`]).
    pub yearly: u32,
}

impl Default for Tiers {
    fn default() -> Self {
        Tiers {
            hourly: 0,
            daily: 7,
            weekly: 4,
            monthly: 12,
            yearly: 0,
        }
    }
}

impl Tiers {
    /// Every tier off: only the newest successful backup is kept.
    pub const KEEP_ONLY_NEWEST: Tiers = Tiers {
        hourly: 0,
        daily: 0,
        weekly: 0,
        monthly: 0,
        yearly: 0,
    };

    /// The count for one tier.
    pub fn count(&self, tier: Tier) -> u32 {
        match tier {
            Tier::Hourly => self.hourly,
            Tier::Daily => self.daily,
            Tier::Weekly => self.weekly,
            Tier::Monthly => self.monthly,
            Tier::Yearly => self.yearly,
        }
    }

    /// True when every tier is 0, which means "keep only the newest".
    pub fn all_off(&self) -> bool {
        Tier::ALL.iter().all(|t| self.count(*t) == 0)
    }

    /// Refuses counts above each tier's maximum ([`Tier::max`]).
    ///
    /// All zeros is valid and means "keep only the newest successful backup".
    /// The first offending tier (finest first) is reported.
    ///
    /// # Errors
    ///
    /// [`RetentionError::TooMany`] naming the tier, the value, the maximum and
    /// how to fix it.
    pub fn validate(&self) -> Result<(), RetentionError> {
        for tier in Tier::ALL {
            let value = self.count(tier);
            if value > tier.max() {
                return Err(RetentionError::TooMany {
                    tier,
                    value,
                    max: tier.max(),
                });
            }
        }
        Ok(())
    }
}
