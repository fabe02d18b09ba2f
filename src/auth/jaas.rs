//! The JAAS login configuration file that names ZooKeeper's SASL users.
//!
//! ```text
//! Server {
//!     org.apache.zookeeper.server.auth.DigestLoginModule required
//!     user_bob="bobsecret"
//!     user_alice="pw";
//! };
//! Client { ... };
//! ```
//!
//! Grammar (as Java's `ConfigFile`): `Section := Name '{' Module* '}' ';'`,
//! `Module := Class Flag (Name '=' Value)* ';'`, values quoted or bare;
//! `//`, `/* */` and `#` comments. For DIGEST-MD5, `DigestLoginModule`'s
//! `user_NAME="password"` options are the user database; ZooKeeper reads the
//! section named by `zookeeper.sasl.serverconfig` (default `Server`).
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A JAAS file or text could not be read or parsed.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", file.display(), if *line > 0 { format!(":{line}") } else { String::new() })]
pub struct JaasError {
    pub file: PathBuf,
    /// 1-based line; 0 when the whole file is at fault.
    pub line: usize,
    pub message: String,
}

/// One login module line: class, control flag, options in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginModule {
    pub class: String,
    pub flag: String,
    pub options: Vec<(String, String)>,
}

/// One `Name { ... };` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JaasSection {
    pub name: String,
    pub modules: Vec<LoginModule>,
}

/// A parsed JAAS file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jaas {
    pub sections: Vec<JaasSection>,
}

impl Jaas {
    /// The names of every section, in file order.
    pub fn section_names(&self) -> Vec<&str> {
        self.sections.iter().map(|s| s.name.as_str()).collect()
    }

    pub fn section(&self, name: &str) -> Option<&JaasSection> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// user -> password from the `user_NAME="pw"` options of `section`
    /// (every module of it, as ZooKeeper's `SaslServerCallbackHandler`);
    /// None when the file has no such section.
    pub fn section_users(&self, section: &str) -> Option<HashMap<String, String>> {
        let section = self.section(section)?;
        let mut users = HashMap::new();
        for module in &section.modules {
            for (key, value) in &module.options {
                if let Some(user) = key.strip_prefix("user_") {
                    users.insert(user.to_string(), value.clone());
                }
            }
        }
        Some(users)
    }

    /// As [`section_users`](Self::section_users), empty when the section is absent.
    pub fn users(&self, section: &str) -> HashMap<String, String> {
        self.section_users(section).unwrap_or_default()
    }

    /// The `Server` section's users (ZooKeeper's default section name).
    pub fn server_users(&self) -> HashMap<String, String> {
        self.users("Server")
    }
}

/// Read and parse a JAAS file.
pub fn parse(path: &Path) -> Result<Jaas, JaasError> {
    let text = std::fs::read_to_string(path).map_err(|e| JaasError {
        file: path.to_path_buf(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    parse_str(&text, path)
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Symbol(char),
}

/// Parse JAAS text; `file` is only used to name errors.
pub fn parse_str(text: &str, file: &Path) -> Result<Jaas, JaasError> {
    let tokens = tokenize(text, file)?;
    let error = |line: usize, message: String| JaasError {
        file: file.to_path_buf(),
        line,
        message,
    };
    let mut sections = Vec::new();
    let mut index = 0;
    let last_line = tokens.last().map_or(1, |(_, line)| *line);
    let next = |index: &mut usize| -> Option<(Token, usize)> {
        let item = tokens.get(*index).cloned();
        *index += 1;
        item
    };
    while index < tokens.len() {
        let (token, line) =
            next(&mut index).ok_or_else(|| error(last_line, "unexpected end".into()))?;
        let Token::Word(name) = token else {
            return Err(error(
                line,
                format!("expected a section name, found {}", show(&token)),
            ));
        };
        // As Java's ConfigFile ("Can not specify multiple entries for
        // <name>"): a second section of one name would otherwise be read
        // by nobody, its users silently missing.
        if sections.iter().any(|s: &JaasSection| s.name == name) {
            return Err(error(line, format!("section '{name}' is given twice")));
        }
        match next(&mut index) {
            Some((Token::Symbol('{'), _)) => {}
            Some((t, l)) => {
                return Err(error(
                    l,
                    format!("expected '{{' after '{name}', found {}", show(&t)),
                ))
            }
            None => return Err(error(line, format!("expected '{{' after '{name}'"))),
        }
        let mut modules = Vec::new();
        loop {
            let (token, line) = next(&mut index).ok_or_else(|| {
                error(
                    last_line,
                    format!("section '{name}' is not closed with '}};'"),
                )
            })?;
            let class = match token {
                Token::Symbol('}') => break,
                Token::Word(class) => class,
                other => {
                    return Err(error(
                        line,
                        format!("expected a login module class, found {}", show(&other)),
                    ))
                }
            };
            let flag = match next(&mut index) {
                Some((Token::Word(flag), l)) => {
                    let lower = flag.to_ascii_lowercase();
                    if !["required", "requisite", "sufficient", "optional"]
                        .contains(&lower.as_str())
                    {
                        return Err(error(l, format!("'{flag}' is not a control flag (required, requisite, sufficient, optional)")));
                    }
                    lower
                }
                Some((t, l)) => {
                    return Err(error(
                        l,
                        format!(
                            "expected a control flag after '{class}', found {}",
                            show(&t)
                        ),
                    ))
                }
                None => {
                    return Err(error(
                        line,
                        format!("expected a control flag after '{class}'"),
                    ))
                }
            };
            let mut options = Vec::new();
            loop {
                match next(&mut index) {
                    Some((Token::Symbol(';'), _)) => break,
                    Some((Token::Word(key), l)) => {
                        match next(&mut index) {
                            Some((Token::Symbol('='), _)) => {}
                            _ => {
                                return Err(error(l, format!("expected '=' after option '{key}'")))
                            }
                        }
                        match next(&mut index) {
                            Some((Token::Word(v) | Token::Quoted(v), _)) => options.push((key, v)),
                            _ => {
                                return Err(error(
                                    l,
                                    format!("expected a value for option '{key}'"),
                                ))
                            }
                        }
                    }
                    Some((t, l)) => {
                        return Err(error(
                            l,
                            format!("expected an option or ';', found {}", show(&t)),
                        ))
                    }
                    None => {
                        return Err(error(
                            last_line,
                            format!("module '{class}' is not closed with ';'"),
                        ))
                    }
                }
            }
            modules.push(LoginModule {
                class,
                flag,
                options,
            });
        }
        match next(&mut index) {
            Some((Token::Symbol(';'), _)) => {}
            Some((t, l)) => {
                return Err(error(
                    l,
                    format!("expected ';' after '}}' of '{name}', found {}", show(&t)),
                ))
            }
            None => {
                return Err(error(
                    last_line,
                    format!("expected ';' after '}}' of '{name}'"),
                ))
            }
        }
        sections.push(JaasSection { name, modules });
    }
    Ok(Jaas { sections })
}

fn show(token: &Token) -> String {
    match token {
        Token::Word(w) => format!("'{w}'"),
        Token::Quoted(q) => format!("\"{q}\""),
        Token::Symbol(c) => format!("'{c}'"),
    }
}

fn tokenize(text: &str, file: &Path) -> Result<Vec<(Token, usize)>, JaasError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '#' || (c == '/' && chars.get(i + 1) == Some(&'/')) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            let start = line;
            i += 2;
            loop {
                if i + 1 >= chars.len() {
                    return Err(JaasError {
                        file: file.to_path_buf(),
                        line: start,
                        message: "comment '/*' is not closed".into(),
                    });
                }
                if chars[i] == '*' && chars[i + 1] == '/' {
                    i += 2;
                    break;
                }
                if chars[i] == '\n' {
                    line += 1;
                }
                i += 1;
            }
        } else if c == '"' || c == '\'' {
            let start = line;
            let mut value = String::new();
            i += 1;
            loop {
                let Some(&d) = chars.get(i) else {
                    return Err(JaasError {
                        file: file.to_path_buf(),
                        line: start,
                        message: "quoted value is not closed".into(),
                    });
                };
                i += 1;
                if d == c {
                    break;
                }
                if d == '\\' {
                    if let Some(&escaped) = chars.get(i) {
                        value.push(escaped);
                        i += 1;
                    }
                    continue;
                }
                if d == '\n' {
                    line += 1;
                }
                value.push(d);
            }
            tokens.push((Token::Quoted(value), start));
        } else if matches!(c, '{' | '}' | ';' | '=') {
            tokens.push((Token::Symbol(c), line));
            i += 1;
        } else {
            let mut word = String::new();
            while i < chars.len() {
                let d = chars[i];
                if d.is_whitespace() || matches!(d, '{' | '}' | ';' | '=' | '"' | '\'') {
                    break;
                }
                word.push(d);
                i += 1;
            }
            tokens.push((Token::Word(word), line));
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
// ZooKeeper server users
Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_super="adminsecret"
       user_bob="bobsecret"
       user_alice="p\"w;x";
};
/* the client side */
Client {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="bob"
       password="bobsecret";
};
"#;

    #[test]
    fn parses_server_and_client_sections() {
        let jaas = parse_str(SAMPLE, Path::new("jaas.conf")).unwrap();
        assert_eq!(jaas.section_names(), vec!["Server", "Client"]);
        let users = jaas.server_users();
        assert_eq!(users.len(), 3);
        assert_eq!(users["bob"], "bobsecret");
        assert_eq!(users["alice"], "p\"w;x");
        assert_eq!(users["super"], "adminsecret");
        let client = jaas.section("Client").unwrap();
        assert_eq!(client.modules[0].flag, "required");
        assert_eq!(
            client.modules[0].options[0],
            ("username".to_string(), "bob".to_string())
        );
        assert!(jaas.users("Client").is_empty());
        assert!(jaas.section_users("Client").is_some());
        assert!(jaas.section_users("Missing").is_none());
    }

    #[test]
    fn errors_name_file_and_line() {
        let text = "Server {\n  org.Mod required\n  user_bob=\"x\";\n};\nBroken {\n  org.Mod mandatory;\n};\n";
        let err = parse_str(text, Path::new("/etc/jaas.conf")).unwrap_err();
        assert_eq!(err.line, 6);
        assert!(
            err.to_string()
                .starts_with("/etc/jaas.conf:6: 'mandatory' is not a control flag"),
            "{err}"
        );
        let err =
            parse_str("Server {\n org.Mod required user_a=\"b\"\n", Path::new("j")).unwrap_err();
        assert!(err.message.contains("not closed"), "{err}");
        let err = parse_str(
            "Server {\n org.Mod required user_a=\"b;\n};\n",
            Path::new("j"),
        )
        .unwrap_err();
        assert_eq!(err.line, 2);
        let err = parse(Path::new("/nonexistent/jaas.conf")).unwrap_err();
        assert_eq!(err.line, 0);
    }

    #[test]
    fn a_section_given_twice_is_refused() {
        // Review finding (fuzz deliverable): the second `Server` section was
        // parsed and then never read, so user_carol silently could not log in.
        let text = "Server {\n org.Mod required user_bob=\"b\";\n};\nServer {\n org.Mod required user_carol=\"c\";\n};\n";
        let err = parse_str(text, Path::new("j")).unwrap_err();
        assert_eq!(err.line, 4);
        assert_eq!(err.message, "section 'Server' is given twice");
        // Different names (and a different case) are different sections, as in Java.
        let text = "Server {\n};\nserver {\n};\nClient {\n};\n";
        assert_eq!(
            parse_str(text, Path::new("j")).unwrap().section_names(),
            ["Server", "server", "Client"]
        );
    }
}
