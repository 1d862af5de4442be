//! `schema.table` names as users type them and pg_dump records them.

use serde::{Deserialize, Serialize};

use super::TocError;

/// A table by its exact schema and name (as in `pg_class`, unquoted).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableRef {
    pub schema: String,
    pub name: String,
}

impl TableRef {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        TableRef {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// Parses `schema.table`. A part in double quotes may hold dots, spaces
    /// and quotes (`""` is one quote); a part without quotes is taken
    /// exactly as typed (no case folding: TOC tags are the exact names).
    pub fn parse(s: &str) -> Result<TableRef, TocError> {
        let bad = |why: &str| {
            TocError::InvalidName(format!(
                "table name `{s}`: {why}. Fix: write it as schema.table, e.g. public.orders or \"My Schema\".\"My Table\" (double quotes around a part holding dots, spaces or quotes; \"\" for a quote inside)"
            ))
        };
        let mut parts: Vec<String> = Vec::new();
        let mut chars = s.trim().chars().peekable();
        loop {
            let mut part = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        None => return Err(bad("a double quote is not closed")),
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            part.push('"');
                        }
                        Some('"') => break,
                        Some(c) => part.push(c),
                    }
                }
                if !matches!(chars.peek(), None | Some('.')) {
                    return Err(bad("text follows a closing double quote"));
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == '.' {
                        break;
                    }
                    if c == '"' {
                        return Err(bad(
                            "a double quote inside a name that does not start with one",
                        ));
                    }
                    part.push(c);
                    chars.next();
                }
            }
            if part.is_empty() {
                return Err(bad("a part is empty"));
            }
            parts.push(part);
            match chars.next() {
                None => break,
                Some('.') => continue,
                Some(_) => unreachable!("a part ends at a dot or the end"),
            }
        }
        match <[String; 2]>::try_from(parts) {
            Ok([schema, name]) => Ok(TableRef { schema, name }),
            Err(parts) if parts.len() == 1 => Err(bad("the schema is missing")),
            Err(_) => Err(bad("it has more than two dot-separated parts")),
        }
    }

    /// `schema.table`, each part double-quoted only where PostgreSQL needs
    /// it (anything but lower-case letters, digits, `_` and `$`, or a
    /// leading digit); [`TableRef::parse`] reads it back.
    pub fn display(&self) -> String {
        model::names::qualified(&self.schema, &self.name)
    }

    /// `"schema"."table"`, always quoted: for SQL text.
    pub fn sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

pub use model::names::quote_ident;

#[cfg(test)]
mod tests {
    use super::*;

    fn t(schema: &str, name: &str) -> TableRef {
        TableRef::new(schema, name)
    }

    #[test]
    fn parses_plain_and_quoted_parts() {
        assert_eq!(
            TableRef::parse("public.orders").unwrap(),
            t("public", "orders")
        );
        assert_eq!(
            TableRef::parse("  Sales.Orders ").unwrap(),
            t("Sales", "Orders")
        );
        assert_eq!(
            TableRef::parse(r#""Audit Log"."My ""Odd"" Table""#).unwrap(),
            t("Audit Log", "My \"Odd\" Table")
        );
        assert_eq!(
            TableRef::parse(r#""a.b"."c.d.e""#).unwrap(),
            t("a.b", "c.d.e")
        );
        assert_eq!(TableRef::parse("ünï.çødé").unwrap(), t("ünï", "çødé"));
        assert_eq!(TableRef::parse(r#"s."x y""#).unwrap(), t("s", "x y"));
        let quotes = format!("{}.{}", quote_ident("\""), quote_ident("\"\""));
        assert_eq!(quotes, r#"""""."""""""#);
        assert_eq!(TableRef::parse(&quotes).unwrap(), t("\"", "\"\""));
    }

    #[test]
    fn refuses_what_is_not_schema_dot_table() {
        for bad in [
            "orders",
            "",
            "a.b.c",
            ".b",
            "a.",
            r#""a"x.b"#,
            r#""a.b"#,
            r#"a"b.c"#,
            r#""".b"#,
        ] {
            let e = TableRef::parse(bad).unwrap_err();
            assert!(matches!(e, TocError::InvalidName(_)), "{bad}");
            assert!(e.to_string().contains("Fix:"));
            assert_eq!(e.status(), 400);
        }
        assert!(TableRef::parse("orders")
            .unwrap_err()
            .to_string()
            .contains("schema is missing"));
    }

    #[test]
    fn display_quotes_only_where_needed_and_round_trips() {
        assert_eq!(t("public", "orders_2$").display(), "public.orders_2$");
        assert_eq!(
            t("Audit Log", "My \"Odd\" Table").display(),
            r#""Audit Log"."My ""Odd"" Table""#
        );
        assert_eq!(t("public", "Orders").display(), r#"public."Orders""#);
        assert_eq!(t("a.b", "1x").display(), r#""a.b"."1x""#);
        assert_eq!(t("s", "ü").display(), r#"s."ü""#);
        assert_eq!(t("s", "x").sql(), r#""s"."x""#);
        for r in [
            t("Audit Log", "My \"Odd\" Table"),
            t("a.b", "c.d"),
            t("s", "ü"),
            t("\"", "\"\""),
            t("public", "orders"),
        ] {
            assert_eq!(TableRef::parse(&r.display()).unwrap(), r);
            assert_eq!(TableRef::parse(&r.sql()).unwrap(), r);
        }
    }
}
