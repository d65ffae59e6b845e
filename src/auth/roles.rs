//! Roles and what each may do (DOMAIN.md §5). Pure: the HTTP layer asks
//! [`Role::may`] on every call, so the rule lives in one table, not in hidden buttons.

use serde::Serialize;

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including accounts.
    Admin,
    /// The county energy bureau: station health, assessment, the ledger.
    Bureau,
    /// Finance staff: settlements, subsidy receipts.
    Finance,
    /// O&M technicians: stations, telemetry, alerts.
    Technician,
    /// A village committee: read-only, its own village only.
    Village,
}

/// An action a route performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Areas, stations, devices (a village user only its own village; see the routes).
    ViewLedger,
    /// Power, energy, latest readings, refused payloads.
    ViewTelemetry,
    /// Replace the ledger from CSV files.
    ImportLedger,
    /// Read settlements and their exports.
    ViewSettlements,
    /// Compute (or recompute a draft), review, approve; record subsidy receipts.
    SettleMoney,
    /// Read the audit log.
    ViewAudit,
    /// Read the efficacy assessment.
    ViewAssessment,
    /// Read alerts.
    ViewAlerts,
    /// Acknowledge and resolve alerts.
    HandleAlerts,
    /// Create users and tokens.
    ManageUsers,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Bureau,
        Role::Finance,
        Role::Technician,
        Role::Village,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Bureau => "bureau",
            Role::Finance => "finance",
            Role::Technician => "technician",
            Role::Village => "village",
        }
    }

    /// The role's name for people, Chinese first.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Admin => "系统管理员",
            Role::Bureau => "能源局",
            Role::Finance => "财务",
            Role::Technician => "运维技术员",
            Role::Village => "村委会",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role may perform `p`.
    pub fn may(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Bureau => matches!(
                p,
                ViewLedger
                    | ViewTelemetry
                    | ImportLedger
                    | ViewSettlements
                    | ViewAudit
                    | ViewAssessment
                    | ViewAlerts
            ),
            Role::Finance => matches!(
                p,
                ViewLedger | ViewTelemetry | ViewSettlements | SettleMoney | ViewAudit
            ),
            Role::Technician => matches!(
                p,
                ViewLedger | ViewTelemetry | ViewAlerts | HandleAlerts | ViewAssessment
            ),
            // Scoped to its own village by the routes that allow it.
            Role::Village => matches!(p, ViewLedger | ViewSettlements),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn money_is_finance_and_admin_only() {
        let may: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.may(Permission::SettleMoney))
            .collect();
        assert_eq!(may, [Role::Admin, Role::Finance]);
    }

    #[test]
    fn alerts_are_handled_by_technicians_not_by_finance_or_villages() {
        assert!(Role::Technician.may(Permission::HandleAlerts));
        assert!(!Role::Finance.may(Permission::HandleAlerts));
        assert!(!Role::Village.may(Permission::HandleAlerts));
        assert!(!Role::Bureau.may(Permission::HandleAlerts));
    }

    #[test]
    fn only_admin_manages_users_and_villages_never_write() {
        for r in Role::ALL {
            assert_eq!(r.may(Permission::ManageUsers), r == Role::Admin);
        }
        for p in [
            Permission::ImportLedger,
            Permission::SettleMoney,
            Permission::HandleAlerts,
            Permission::ViewTelemetry,
            Permission::ViewAudit,
        ] {
            assert!(!Role::Village.may(p), "{p:?}");
        }
    }
}
