//! Plain-text tables for `list`, `status` and `cache status`: each column as wide as its
//! widest cell (a 32-character lab name or a long API URL no longer pushes the row out of
//! line), two spaces between columns, no trailing blanks. Headers can be left out
//! (`--no-headers`, as kubectl's), so `awk` and `cut` read rows only.

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    /// Numbers.
    Right,
}

/// A table being filled, row by row.
#[derive(Debug)]
pub(crate) struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(columns: &[(&'static str, Align)]) -> Self {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// One row, a cell per column (missing cells are blank, extra ones ignored).
    pub(crate) fn row(&mut self, cells: impl IntoIterator<Item = String>) {
        self.rows.push(cells.into_iter().collect());
    }

    /// The table as text, one line per row, with the header line first when `headers`.
    pub(crate) fn render(&self, headers: bool) -> String {
        let header: Vec<String> = self.columns.iter().map(|(h, _)| h.to_string()).collect();
        let lines: Vec<&Vec<String>> = headers
            .then_some(&header)
            .into_iter()
            .chain(&self.rows)
            .collect();
        let cell = |row: &Vec<String>, i: usize| row.get(i).map_or(0, |c| c.chars().count());
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|i| lines.iter().map(|r| cell(r, i)).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in lines {
            let mut line = String::new();
            for (i, ((_, align), width)) in self.columns.iter().zip(&widths).enumerate() {
                let text = row.get(i).map_or("", String::as_str);
                if i > 0 {
                    line.push_str("  ");
                }
                match align {
                    Align::Left => line.push_str(&format!("{text:<width$}")),
                    Align::Right => line.push_str(&format!("{text:>width$}")),
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_their_widest_cell_numbers_align_right_and_headers_can_go() {
        let mut t = Table::new(&[
            ("NAME", Align::Left),
            ("N", Align::Right),
            ("NOTE", Align::Left),
        ]);
        t.row([
            "a-very-long-lab-name-of-32-chars".into(),
            "1".into(),
            String::new(),
        ]);
        t.row(["b".into(), "10".into(), "x".into()]);
        assert_eq!(
            t.render(true),
            "\
NAME                               N  NOTE
a-very-long-lab-name-of-32-chars   1
b                                 10  x
"
        );
        assert_eq!(
            t.render(false),
            "\
a-very-long-lab-name-of-32-chars   1
b                                 10  x
"
        );
    }
}
