//! The practice's "Daily text budget" (DESIGN's table of texts): texts to numbers not yet
//! verified and notices over the last 24 hours. At 100 % codes to numbers not yet verified stop
//! (`limits::texts::budget`); at 80 % the practice is warned, before it bites: a log warning,
//! the `portal_sms_budget_used_ratio` metric and a banner on the overview.

use crate::{
    clock::DAY,
    error::{Error, OrInternal},
    portal::Portal,
};

/// The share of the budget at which the practice is warned.
pub const WARN_AT_PERCENT: i64 = 80;

/// How much of the budget the last 24 hours used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetUse {
    pub used: i64,
    pub budget: i64,
}

impl BudgetUse {
    pub fn ratio(self) -> f64 {
        match self.budget {
            0 => 1.0,
            budget => self.used as f64 / budget as f64,
        }
    }

    /// Whole percent, rounded down: 79.9 % isn't yet 80.
    pub fn percent(self) -> i64 {
        match self.budget {
            0 => 100,
            budget => self.used * 100 / budget,
        }
    }

    pub fn needs_a_warning(self) -> bool {
        self.percent() >= WARN_AT_PERCENT
    }
}

pub async fn usage(portal: &Portal) -> Result<BudgetUse, Error> {
    let budget = crate::limits::texts::budget(portal);
    let used = portal
        .store
        .limit_count(&budget)
        .await
        .or_internal("counting the day's texts")?;
    Ok(BudgetUse {
        used,
        budget: budget.max,
    })
}

/// Looks at the budget (every minute, on every instance): sets the metric, and past 80 % warns
/// in the log, once a day across instances. The overview's banner reads `usage` itself.
pub async fn watch(portal: &Portal) -> Result<Option<BudgetUse>, Error> {
    let usage = usage(portal).await?;
    crate::metrics::text_budget_used(usage.ratio());
    if !usage.needs_a_warning() {
        return Ok(None);
    }
    let now = portal.now();
    let first_today = portal
        .store
        .claim_text_budget_warning(now, now - DAY)
        .await
        .or_internal("noting a text budget warning")?;
    if !first_today {
        return Ok(None);
    }
    tracing::warn!(
        used = usage.used,
        budget = usage.budget,
        "{} % of the daily text budget used in the last 24 hours: at 100 %, codes to numbers not yet verified stop",
        usage.percent()
    );
    let body = format!(
        "{} % of the practice's daily text budget was used in the last 24 hours: {} of {} texts to numbers not yet verified and notices. At 100 %, codes to new numbers stop until older texts fall out of the last 24 hours; sign-in codes to verified numbers never count.\n\nIf this isn't real demand, look at where the texts go on the overview. If it is, raise the \"Daily text budget\" in Practice settings.\n",
        usage.percent(),
        usage.used,
        usage.budget,
    );
    let subject = format!("the daily text budget is {} % used", usage.percent());
    crate::admin_alerts::send(portal, &subject, body).await;
    Ok(Some(usage))
}
