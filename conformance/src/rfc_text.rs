//! Reading plain-text RFCs (RFC 7322 layout): section headings and RFC 2119 keywords.
//!
//! Used by the `sections` and `keywords` commands, which generate `spec/sections-NNNN.txt` and
//! check a catalogue's completeness against the RFC text. Tests never read RFC files from outside
//! the repository; they use the committed section lists instead.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;

use crate::catalogue::Level;

/// One numbered section of an RFC: number, title and body text (page furniture removed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub number: String,
    pub title: String,
    pub body: String,
}

fn heading_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^(?:Appendix )?((?:[1-9][0-9]*|[A-Z])(?:\.[0-9]+)*)\.\s+(\S.*)$")
            .expect("heading pattern is a valid regular expression")
    })
}

fn keyword_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // Longest alternatives first; keywords may wrap across lines. A keyword in double
        // quotes (the RFC 2119 boilerplate) is not normative and is skipped by the caller.
        Regex::new(
            r"\b(MUST\s+NOT|SHALL\s+NOT|SHOULD\s+NOT|NOT\s+RECOMMENDED|MUST|REQUIRED|REQUIRES|SHALL|SHOULD|RECOMMENDED|MAY|OPTIONAL)\b",
        )
        .expect("keyword pattern is a valid regular expression")
    })
}

/// Whether a line is page furniture of an RFC text file: a form feed, a page footer ending in
/// `[Page N]`, or a running header starting with `RFC NNNN`.
fn is_page_furniture(line: &str) -> bool {
    static FOOTER: OnceLock<Regex> = OnceLock::new();
    static HEADER: OnceLock<Regex> = OnceLock::new();
    let footer = FOOTER.get_or_init(|| {
        Regex::new(r"\[Page [0-9]+\]\s*$").expect("footer pattern is a valid regular expression")
    });
    let header = HEADER.get_or_init(|| {
        Regex::new(r"^RFC [0-9]+ {2,}").expect("header pattern is a valid regular expression")
    });
    line.contains('\u{c}') || footer.is_match(line) || header.is_match(line)
}

/// Splits an RFC text into its numbered sections. Headings are the lines that start in column 0
/// with a section number (`4.3.3.1.  Hostname`, `Appendix A.  Title`, `A.1.  Title`); the
/// indented table of contents is therefore skipped.
pub fn sections(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for line in text.lines() {
        if is_page_furniture(line) {
            continue;
        }
        if let Some(c) = heading_regex().captures(line) {
            let number = c.get(1).map_or("", |m| m.as_str()).to_string();
            let title = c.get(2).map_or("", |m| m.as_str()).trim().to_string();
            out.push(Section {
                number,
                title,
                body: String::new(),
            });
        } else if let Some(current) = out.last_mut() {
            current.body.push_str(line);
            current.body.push('\n');
        }
    }
    out
}

/// Counts the RFC 2119 keywords of a text by level. `REQUIRES` (used as a keyword by RFC 7425
/// 4.4.3) counts as `REQUIRED`. Keywords inside double quotes are not counted.
pub fn count_keywords(text: &str) -> BTreeMap<Level, usize> {
    let mut counts = BTreeMap::new();
    let bytes = text.as_bytes();
    for m in keyword_regex().find_iter(text) {
        let quoted = m.start() > 0 && bytes.get(m.start() - 1) == Some(&b'"');
        if quoted {
            continue;
        }
        let word: Vec<&str> = m.as_str().split_whitespace().collect();
        let word = word.join(" ");
        let level = if word == "REQUIRES" {
            Some(Level::Required)
        } else {
            Level::parse(&word)
        };
        if let Some(level) = level {
            *counts.entry(level).or_insert(0) += 1;
        }
    }
    counts
}

/// Renders the committed section list format: a header comment, then `<number> <title>` lines.
pub fn render_section_list(rfc: u16, sections: &[Section]) -> String {
    let mut out = format!(
        "# Section headings of RFC {rfc}, generated from the RFC text by\n\
         #   cargo run -p rtmfp-conformance -- sections /path/to/rfc{rfc}.txt > spec/sections-{rfc}.txt\n\
         # Catalogue and state-machine sections are checked against this list.\n"
    );
    for s in sections {
        out.push_str(&s.number);
        out.push(' ');
        out.push_str(&s.title);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // A small text in the RFC 7322 layout: a table of contents, a page break with its furniture,
    // the RFC 2119 boilerplate, and keywords that wrap across lines.
    const SAMPLE: &str = "Table of Contents\n\
        \n   1. Introduction ....3\n   2.1. Sub ....4\n\
        \n1.  Introduction\n\
        \n   Implementations MUST do one thing and MUST\n   NOT do another; they MAY rest.\n\
        \nThornburgh                    Informational                     [Page 3]\n\u{c}\n\
        RFC 7425          Adobe RTMFP Profile for Flash Communication      December 2014\n\
        \n   The key words \"MUST\", \"SHOULD\" are to be interpreted.\n\
        \n2.1.  Sub\n\n   A receiver SHOULD\n   NOT reply. This REQUIRES care.\n\
        \nAppendix A.  Extra\n\n   Nothing here.\n\nA.1.  More\n\n   It is OPTIONAL.\n";

    #[test]
    fn headings_skip_the_table_of_contents_and_page_furniture() {
        let s = sections(SAMPLE);
        let numbers: Vec<&str> = s.iter().map(|s| s.number.as_str()).collect();
        assert_eq!(numbers, ["1", "2.1", "A", "A.1"]);
        assert_eq!(s[0].title, "Introduction");
        assert!(!s[0].body.contains("[Page"));
        assert!(!s[0].body.contains("December 2014"));
    }

    #[test]
    fn keywords_are_counted_across_line_breaks_and_outside_quotes() {
        let s = sections(SAMPLE);
        let first = count_keywords(&s[0].body);
        assert_eq!(first.get(&Level::Must), Some(&1));
        assert_eq!(first.get(&Level::MustNot), Some(&1));
        assert_eq!(first.get(&Level::May), Some(&1));
        assert_eq!(
            first.get(&Level::Should),
            None,
            "quoted boilerplate is not counted"
        );
        let second = count_keywords(&s[1].body);
        assert_eq!(second.get(&Level::ShouldNot), Some(&1));
        assert_eq!(second.get(&Level::Required), Some(&1));
        assert_eq!(count_keywords(&s[3].body).get(&Level::Optional), Some(&1));
    }
}
