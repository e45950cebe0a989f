//! The small vocabulary shared by every module: environments, token types, scopes and plans.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a key and a server live: test keys never see live data, and the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Env {
    /// Development traffic: free, never counted against the daily quota.
    Test,
    /// Production traffic: counted against the plan's daily quota.
    Live,
}

impl Env {
    /// The lowercase name used in tokens, paths and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Env::Test => "test",
            Env::Live => "live",
        }
    }
}

impl fmt::Display for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Env {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "test" => Ok(Env::Test),
            "live" => Ok(Env::Live),
            other => Err(format!("unknown environment '{other}': use test or live")),
        }
    }
}

/// Restricted keys carry an explicit scope list; unrestricted keys hold every scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// Only the listed scopes (the default, and the safer choice).
    Restricted,
    /// Every scope, present and future.
    Unrestricted,
}

impl TokenType {
    /// The lowercase name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Restricted => "restricted",
            TokenType::Unrestricted => "unrestricted",
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "restricted" => Ok(TokenType::Restricted),
            "unrestricted" => Ok(TokenType::Unrestricted),
            other => Err(format!(
                "unknown key type '{other}': use restricted or unrestricted"
            )),
        }
    }
}

/// A permission a key may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// Call the `search` tool.
    #[serde(rename = "mcp:search")]
    McpSearch,
    /// Call the `get_doc` tool.
    #[serde(rename = "mcp:get_doc")]
    McpGetDoc,
    /// Call the `list_repos` tool.
    #[serde(rename = "mcp:list_repos")]
    McpListRepos,
    /// Read repository metadata.
    #[serde(rename = "repo:read")]
    RepoRead,
    /// Add, sync and remove repositories.
    #[serde(rename = "repo:write")]
    RepoWrite,
}

impl Scope {
    /// Every scope, in display order.
    pub const ALL: [Scope; 5] = [
        Scope::McpSearch,
        Scope::McpGetDoc,
        Scope::McpListRepos,
        Scope::RepoRead,
        Scope::RepoWrite,
    ];

    /// The name used on the command line and in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::McpSearch => "mcp:search",
            Scope::McpGetDoc => "mcp:get_doc",
            Scope::McpListRepos => "mcp:list_repos",
            Scope::RepoRead => "repo:read",
            Scope::RepoWrite => "repo:write",
        }
    }

    /// All scope names joined for error messages.
    pub fn valid_list() -> String {
        Scope::ALL.map(Scope::as_str).join(", ")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown scope '{s}': valid scopes are {}",
                    Scope::valid_list()
                )
            })
    }
}

/// A tenant's plan: it caps active keys and daily requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// 3 active keys, 100 live requests a day.
    Free,
    /// 10 active keys, 10,000 live requests a day.
    Pro,
    /// No key cap; the daily limit is set per tenant.
    Enterprise,
}

impl Plan {
    /// The lowercase name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }

    /// The plan's default cap on active keys (`None`: unlimited).
    pub fn default_max_keys(self) -> Option<u64> {
        match self {
            Plan::Free => Some(3),
            Plan::Pro => Some(10),
            Plan::Enterprise => None,
        }
    }

    /// The plan's default daily limit on live `tools/call` requests (`None`: unlimited).
    pub fn default_daily_limit(self) -> Option<u64> {
        match self {
            Plan::Free => Some(100),
            Plan::Pro => Some(10_000),
            Plan::Enterprise => None,
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Plan {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "free" => Ok(Plan::Free),
            "pro" => Ok(Plan::Pro),
            "enterprise" => Ok(Plan::Enterprise),
            other => Err(format!(
                "unknown plan '{other}': use free, pro or enterprise"
            )),
        }
    }
}

/// Checks a tenant name: 1–64 characters of `a-z`, `0-9`, `-` and `_`, starting with a letter or digit.
/// Tenant names become directory names, so nothing else is allowed.
pub fn validate_tenant_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid tenant name '{name}': use 1-64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_their_names() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>().unwrap(), scope);
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(json, format!("\"{}\"", scope.as_str()));
        }
    }

    #[test]
    fn unknown_scope_lists_the_valid_ones() {
        let err = "mcp:admin".parse::<Scope>().unwrap_err();
        assert!(err.contains("mcp:admin"));
        for scope in Scope::ALL {
            assert!(err.contains(scope.as_str()));
        }
    }

    #[test]
    fn tenant_names_are_path_safe() {
        assert!(validate_tenant_name("acme").is_ok());
        assert!(validate_tenant_name("acme-01_x").is_ok());
        for bad in ["", "../x", "Acme", "a b", "-acme", "a/b", &"x".repeat(65)] {
            assert!(validate_tenant_name(bad).is_err(), "{bad}");
        }
    }
}
