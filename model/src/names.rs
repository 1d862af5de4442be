//! PostgreSQL names as people read and type them: `schema.table`, each part
//! bare when it is a plain lower-case identifier and double-quoted (quotes
//! doubled) otherwise, as PostgreSQL prints names. One rule for the engine,
//! the CLI and the browser.

/// Always quoted: for SQL text (`my "table"` -> `"my ""table"""`).
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Bare when `s` is a plain lower-case identifier (`a-z`, `_`, then also
/// digits and `$`), else [`quote_ident`].
pub fn quote_if_needed(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain {
        s.to_owned()
    } else {
        quote_ident(s)
    }
}

/// `schema.name`, each part quoted only where needed.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_if_needed(schema), quote_if_needed(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(qualified("public", "orders"), "public.orders");
        assert_eq!(qualified("Sales", "Big Table"), "\"Sales\".\"Big Table\"");
        assert_eq!(qualified("a\"b", "t1"), "\"a\"\"b\".t1");
        assert_eq!(qualified("public", "1x"), "public.\"1x\"");
        assert_eq!(qualified("Sales Dept", "a.b"), "\"Sales Dept\".\"a.b\"");
        assert_eq!(qualified("s", "say \"hi\""), "s.\"say \"\"hi\"\"\"");
        assert_eq!(qualified("s", "Ünïcode"), "s.\"Ünïcode\"");
        assert_eq!(quote_if_needed(""), "\"\"");
        assert_eq!(quote_ident("my \"table\""), "\"my \"\"table\"\"\"");
    }
}
