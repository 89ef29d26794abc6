//! CSV fields, as every CSV the hub writes quotes them (statements, the audit trail).

/// Quotes a CSV field when it needs it (RFC 4180), and defuses spreadsheet formulas (a
/// leading `=`, `+`, `-` or `@` gets an apostrophe).
pub(crate) fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}
