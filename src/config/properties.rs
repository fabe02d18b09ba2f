//! The Java-properties parser (`java.util.Properties.load`'s grammar):
//! `key=value`, `key: value` or `key value`; `#`/`!` comments; backslash line
//! continuation; `\t \n \r \f \uXXXX` escapes. Each entry keeps the line it
//! starts on, so every later error can name `file:line`. It knows no key.

/// One `key=value` entry of a properties file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    pub key: String,
    pub value: String,
    /// The 1-based line where the entry starts.
    pub line: usize,
}

/// Parse Java properties text (as `java.util.Properties.load`), with values
/// trimmed as ZooKeeper trims them.
pub fn parse_properties(text: &str) -> Vec<Property> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let start_line = index + 1;
        let first = lines[index].trim_start_matches([' ', '\t', '\x0c']);
        index += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        // Join continuation lines: a line ending in an odd number of backslashes.
        let mut logical = String::new();
        let mut current = first.to_string();
        loop {
            let trailing = current.chars().rev().take_while(|c| *c == '\\').count();
            if trailing % 2 == 1 {
                current.pop();
                logical.push_str(&current);
                if index < lines.len() {
                    current = lines[index]
                        .trim_start_matches([' ', '\t', '\x0c'])
                        .to_string();
                    index += 1;
                    continue;
                }
                break;
            }
            logical.push_str(&current);
            break;
        }
        let (key, value) = split_key_value(&logical);
        out.push(Property {
            key: unescape(&key).trim().to_string(),
            value: unescape(&value).trim().to_string(),
            line: start_line,
        });
    }
    out
}

/// Split at the first unescaped `=`, `:` or whitespace; skip whitespace and
/// one `=`/`:` after it. Both halves are still escaped.
fn split_key_value(line: &str) -> (String, String) {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut key = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            key.push(c);
            key.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\x0c' {
            break;
        }
        key.push(c);
        i += 1;
    }
    while i < chars.len() && matches!(chars[i], ' ' | '\t' | '\x0c') {
        i += 1;
    }
    if i < chars.len() && (chars[i] == '=' || chars[i] == ':') {
        i += 1;
    }
    while i < chars.len() && matches!(chars[i], ' ' | '\t' | '\x0c') {
        i += 1;
    }
    (key, chars[i..].iter().collect())
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                // Four hex digits exactly: `from_str_radix` alone would take
                // "+041" (a fuzz-review finding).
                let digits = hex.len() == 4 && hex.chars().all(|c| c.is_ascii_hexdigit());
                let code = u32::from_str_radix(&hex, 16).ok().filter(|_| digits);
                match code.and_then(char::from_u32) {
                    Some(decoded) => out.push(decoded),
                    None => {
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_escape_needs_four_hex_digits() {
        // "\u+041" decoded as 'A' because u32::from_str_radix accepts a
        // sign. Java refuses it as malformed; here it stays literal text.
        let props = parse_properties("a=\\u+041\nb=\\u0041\nc=\\u-041\n");
        let values: Vec<&str> = props.iter().map(|p| p.value.as_str()).collect();
        assert_eq!(values, ["\\u+041", "A", "\\u-041"]);
    }

    #[test]
    fn properties_format() {
        let text = "# comment\n  ! also comment\n\na=1\nb : 2\nc 3\n  d=  spaced value  \ne=one \\\n   two\nf\\=g=h\ni=\\u0041\\t!\n";
        let props = parse_properties(text);
        let pairs: Vec<(&str, &str, usize)> = props
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str(), p.line))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("a", "1", 4),
                ("b", "2", 5),
                ("c", "3", 6),
                ("d", "spaced value", 7),
                ("e", "one two", 8),
                ("f=g", "h", 10),
                ("i", "A\t!", 11),
            ]
        );
    }
}
