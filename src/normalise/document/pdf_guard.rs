//! Checks a loaded PDF must pass before pdf-extract sees it. (Inflation is bounded
//! earlier, before loading, in `pdf`.)
//!
//! pdf-extract and the parsers under it (lopdf, adobe-cmap-parser,
//! type1-encoding-parser) inflate without limit, recurse without a depth limit and
//! expand character ranges without bound. A stack overflow aborts the whole process
//! and cannot be caught, and memory exhaustion gets it killed, so each of those paths
//! is bounded first:
//! - page-tree parents and form XObjects, for cycles and depth, and the content
//!   extraction will walk, with each draw of a form counted ([`check_parents`],
//!   [`Walk`]);
//! - font programs and CMaps, for nesting depth and the size of character ranges
//!   ([`check_fonts`]).

use std::collections::{HashMap, HashSet};

use pdf_extract::content::Content;
use pdf_extract::{Dictionary, Document, Object, ObjectId};

use super::pdf::CORRUPT;
use super::{DocumentError, find};

/// Deepest form XObject nesting, page-tree parent chain and font-program nesting
/// accepted. Real documents use a few levels; the libraries recurse once per level.
const MAX_NESTING: usize = 32;

/// Most character codes all `bfrange` lines of one ToUnicode CMap may cover. Two-byte
/// codes give 65,536 at most; adobe-cmap-parser builds one map entry per code, again
/// for each page, so a range over four-byte codes would exhaust memory.
const MAX_CMAP_CODES: u64 = 2 * 65_536;

/// What walking one form draw costs beyond its content, in budget bytes.
const DRAW_COST: u64 = 64;

/// pdf-extract looks up inherited page attributes by recursing up `/Parent` with no
/// cycle check, so a cyclic or very deep chain would overflow the stack.
pub(super) fn check_parents(doc: &Document, page: ObjectId) -> Result<(), DocumentError> {
    let mut seen = HashSet::new();
    let mut id = page;
    for _ in 0..MAX_NESTING {
        if !seen.insert(id) {
            return Err(CORRUPT);
        }
        let parent = doc
            .get_dictionary(id)
            .ok()
            .and_then(|d| d.get(b"Parent").ok())
            .and_then(|p| p.as_reference().ok());
        match parent {
            Some(next) => id = next,
            None => return Ok(()),
        }
    }
    Err(CORRUPT)
}

/// The content bytes extraction will walk: each page's content, plus each form it
/// draws, counted once per draw. Finds form cycles and over-deep nesting on the way.
pub(super) struct Walk<'a> {
    doc: &'a Document,
    budget: u64,
    used: u64,
    /// What one draw of a form costs in bytes, and how many levels of forms it
    /// opens (itself included), once known.
    cost: HashMap<ObjectId, (u64, usize)>,
    /// Forms being walked: meeting one again is a cycle.
    open: HashSet<ObjectId>,
}

impl<'a> Walk<'a> {
    pub(super) fn new(doc: &'a Document, budget: u64) -> Self {
        Walk {
            doc,
            budget,
            used: 0,
            cost: HashMap::new(),
            open: HashSet::new(),
        }
    }

    pub(super) fn pages(
        &mut self,
        pages: impl Iterator<Item = ObjectId>,
    ) -> Result<(), DocumentError> {
        let mut sizes: HashMap<ObjectId, u64> = HashMap::new();
        for page in pages {
            // lopdf concatenates a page's content streams, repeats included: add up
            // their sizes before it does.
            for id in self.doc.get_page_contents(page) {
                let size = match sizes.get(&id) {
                    Some(size) => *size,
                    None => {
                        let size =
                            self.doc
                                .get_object(id)
                                .and_then(Object::as_stream)
                                .map_or(0, |s| {
                                    s.decompressed_content()
                                        .map_or(s.content.len(), |c| c.len())
                                        as u64
                                });
                        *sizes.entry(id).or_insert(size)
                    }
                };
                self.spend(size)?;
            }
            let content = self.doc.get_page_content(page).map_err(|_| CORRUPT)?;
            let resources = self.page_resources(page);
            self.draws(&content, resources, 0)?;
        }
        Ok(())
    }

    fn spend(&mut self, bytes: u64) -> Result<(), DocumentError> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.budget {
            return Err(DocumentError::TooLarge);
        }
        Ok(())
    }

    /// Walks the forms drawn (`Do`) by `content`, resolving names in `resources`,
    /// and returns how many levels of forms the deepest of them opens.
    fn draws(
        &mut self,
        content: &[u8],
        resources: Option<&'a Dictionary>,
        depth: usize,
    ) -> Result<usize, DocumentError> {
        let ops = Content::decode(content).map_err(|_| CORRUPT)?;
        let mut height = 0;
        for op in ops.operations.iter().filter(|op| op.operator == "Do") {
            let form = op
                .operands
                .first()
                .and_then(|n| n.as_name().ok())
                .and_then(|name| self.dict(resources?.get(b"XObject").ok()?)?.get(name).ok())
                .and_then(|f| f.as_reference().ok())
                .ok_or(CORRUPT)?;
            height = height.max(self.form(form, resources, depth + 1)?);
        }
        Ok(height)
    }

    /// Walks one draw of a form at `depth` and returns the levels it opens.
    fn form(
        &mut self,
        id: ObjectId,
        caller: Option<&'a Dictionary>,
        depth: usize,
    ) -> Result<usize, DocumentError> {
        if let Some(&(cost, height)) = self.cost.get(&id) {
            // A remembered form still nests as deep as it did: check from here.
            if depth + height - 1 > MAX_NESTING {
                return Err(CORRUPT);
            }
            self.spend(cost)?;
            return Ok(height);
        }
        if depth > MAX_NESTING || !self.open.insert(id) {
            return Err(CORRUPT);
        }
        let stream = self
            .doc
            .get_object(id)
            .and_then(Object::as_stream)
            .map_err(|_| CORRUPT)?;
        let content = stream
            .decompressed_content()
            .unwrap_or_else(|_| stream.content.clone());
        let before = self.used;
        // Each draw costs something even when empty, so a million draws of an empty
        // form still count.
        self.spend(DRAW_COST + content.len() as u64)?;
        let own = stream
            .dict
            .get(b"Resources")
            .ok()
            .and_then(|r| self.dict(r));
        // A form without resources draws with its caller's, so it can draw itself;
        // its cost then depends on the caller and is not remembered.
        let height = 1 + self.draws(&content, own.or(caller), depth)?;
        self.open.remove(&id);
        if own.is_some() {
            self.cost.insert(id, (self.used - before, height));
        }
        Ok(height)
    }

    /// The resources of a page, inherited from the page tree as pdf-extract finds them.
    fn page_resources(&self, page: ObjectId) -> Option<&'a Dictionary> {
        let mut id = page;
        for _ in 0..MAX_NESTING {
            let dict = self.doc.get_dictionary(id).ok()?;
            if let Some(resources) = dict.get(b"Resources").ok().and_then(|r| self.dict(r)) {
                return Some(resources);
            }
            id = dict.get(b"Parent").ok()?.as_reference().ok()?;
        }
        None
    }

    fn dict(&self, object: &'a Object) -> Option<&'a Dictionary> {
        match object {
            Object::Reference(id) => self.doc.get_dictionary(*id).ok(),
            other => other.as_dict().ok(),
        }
    }
}

/// Font programs and CMaps go to recursive-descent parsers: each must nest no deeper
/// than [`MAX_NESTING`], and a ToUnicode CMap's ranges must cover at most
/// [`MAX_CMAP_CODES`] codes.
pub(super) fn check_fonts(doc: &Document) -> Result<(), DocumentError> {
    let mut cmaps = HashSet::new();
    let mut programs = HashSet::new();
    // Font dictionaries may be direct values inside resources, so every dictionary
    // in every object is visited; lopdf bounds how deeply they nest.
    let mut pending: Vec<&Object> = doc.objects.values().collect();
    while let Some(object) = pending.pop() {
        let dict = match object {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            Object::Array(items) => {
                pending.extend(items);
                continue;
            }
            _ => continue,
        };
        for (key, value) in dict.iter() {
            match (key.as_slice(), value.as_reference()) {
                (b"ToUnicode", Ok(id)) => {
                    cmaps.insert(id);
                }
                (b"FontFile" | b"Encoding", Ok(id)) => {
                    programs.insert(id);
                }
                _ => pending.push(value),
            }
        }
    }
    for (id, is_cmap) in cmaps
        .iter()
        .map(|id| (id, true))
        .chain(programs.iter().map(|id| (id, false)))
    {
        let Ok(stream) = doc.get_object(*id).and_then(Object::as_stream) else {
            continue;
        };
        let content = stream
            .decompressed_content()
            .unwrap_or_else(|_| stream.content.clone());
        if nesting(&content) > MAX_NESTING || (is_cmap && cmap_codes(&content) > MAX_CMAP_CODES) {
            return Err(CORRUPT);
        }
    }
    Ok(())
}

/// An upper bound on how deeply a PostScript-syntax parser recurses over `data`:
/// arrays, procedures, dictionaries and literal strings (which nest parentheses).
/// A closer counts only when it matches the innermost opener and the byte after a
/// backslash in a string is skipped, so string content can only raise the bound.
/// The scan ends where the parser must stop: outside a string, at a byte no token
/// holds (the binary part of a Type 1 font program) or a comment inside a structure.
fn nesting(data: &[u8]) -> usize {
    let mut open: Vec<u8> = Vec::new();
    let mut deepest = 0;
    let mut i = 0;
    while let Some(&b) = data.get(i) {
        let in_string = open.last() == Some(&b'(');
        let pair = data.get(i..i + 2);
        let (opener, closer) = match b {
            b'\\' if in_string => {
                i += 2;
                continue;
            }
            b'(' if in_string => (Some(b'('), None),
            b')' if in_string => (None, Some(b'(')),
            _ if in_string => (None, None),
            b'%' if open.is_empty() => {
                i = find(&data[i..], b"\n").map_or(data.len(), |j| i + j + 1);
                continue;
            }
            b'%' | b'\\' | 0x7F.. => break,
            _ if b.is_ascii_control() && !b" \t\n\r\0\x0c".contains(&b) => break,
            b'<' if pair == Some(b"<<") => (Some(b'<'), None),
            b'>' if pair == Some(b">>") => (None, Some(b'<')),
            b'[' | b'{' | b'(' => (Some(b), None),
            b']' => (None, Some(b'[')),
            b'}' => (None, Some(b'{')),
            b')' => (None, Some(b'(')),
            _ => (None, None),
        };
        if let Some(o) = opener {
            open.push(o);
            deepest = deepest.max(open.len());
        } else if closer.is_some() && open.last() == closer.as_ref() {
            open.pop();
        }
        i += if !in_string && matches!(opener.or(closer), Some(b'<')) {
            2
        } else {
            1
        };
    }
    deepest
}

/// Character codes the `bfrange` lines of a CMap cover, as adobe-cmap-parser expands
/// them: each `<lo> <hi> <dst>` maps every code from lo to hi. (`<lo> <hi> [...]`
/// lists each code, so its size is already bounded by the stream's.)
fn cmap_codes(cmap: &[u8]) -> u64 {
    let mut total = 0u64;
    let mut pos = 0;
    while let Some(i) = find(&cmap[pos..], b"beginbfrange") {
        pos += i + b"beginbfrange".len();
        let mut entry: Vec<Option<u32>> = Vec::with_capacity(3);
        loop {
            while cmap.get(pos).is_some_and(|b| b" \t\n\r\0\x0c".contains(b)) {
                pos += 1;
            }
            let value = match cmap.get(pos) {
                Some(b'<') => {
                    let end = find(&cmap[pos..], b">").map_or(cmap.len(), |j| pos + j);
                    let code = hex_code(&cmap[pos + 1..end]);
                    pos = end + 1;
                    code
                }
                Some(b'[') => {
                    pos = find(&cmap[pos..], b"]").map_or(cmap.len(), |j| pos + j + 1);
                    None
                }
                _ => break,
            };
            entry.push(value);
            if let [Some(lo), Some(hi), Some(_)] = entry[..]
                && hi >= lo
            {
                total = total.saturating_add(u64::from(hi - lo) + 1);
            }
            if entry.len() == 3 {
                entry.clear();
            }
        }
    }
    total
}

/// The code of a hex string as adobe-cmap-parser reads it (big-endian, keeping the
/// low four bytes); `None` if it is not whole hex pairs.
fn hex_code(hex: &[u8]) -> Option<u32> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.chunks(2).try_fold(0u32, |code, pair| {
        let pair = std::str::from_utf8(pair).ok()?;
        Some((code << 8) | u32::from(u8::from_str_radix(pair, 16).ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{pdf_from_objects, stream_object};
    use super::super::{DocumentKind, Limits, to_text};
    use super::*;

    /// One page showing text in a font whose `/ToUnicode` (object 6) and `/FontFile`
    /// (object 7) hold the given data.
    fn pdf_with_font_streams(cmap: &[u8], program: &[u8]) -> Vec<u8> {
        pdf_from_objects(&[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
              /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
                .to_vec(),
            stream_object(
                "",
                b"BT /F1 12 Tf 72 720 Td (Dear Dr Khan, thank you for seeing her) Tj ET",
            ),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R \
              /FontDescriptor << /Type /FontDescriptor /FontName /Helvetica /FontFile 7 0 R >> >>"
                .to_vec(),
            stream_object("", cmap),
            stream_object("", program),
        ])
    }

    #[test]
    fn nesting_counts_only_matching_closers_and_skips_escapes() {
        assert_eq!(nesting(b"<< /A [1 [2] {3 (x(y)z)}] >>"), 5);
        assert_eq!(nesting(b"<0041> <0042>"), 0);
        // Escaped parentheses and stray closers inside strings cannot lower the count.
        assert_eq!(nesting(b"(\\)(\\)(\\)"), 3);
        assert_eq!(nesting(b"[(]]]]) [[[ ]]]"), 4);
        // Comments at the top level are skipped; binary data ends the scan.
        assert_eq!(
            nesting(b"% [[[[\n[[ ]] currentfile eexec\n\x93[[[[[[[[[["),
            2
        );
    }

    #[test]
    fn cmap_codes_add_up_hex_ranges_only() {
        let cmap =
            b"2 beginbfrange\n<0000> <00FF> <0041>\n<0100> <0101> [<0041> <0042>]\nendbfrange\n\
                     1 beginbfrange <0300> <0200> <0041> endbfrange";
        assert_eq!(cmap_codes(cmap), 256);
        assert_eq!(
            cmap_codes(b"1 beginbfrange <00000000> <FFFFFFFF> <0000> endbfrange"),
            1 << 32
        );
    }

    #[test]
    fn a_full_two_byte_cmap_and_a_normal_font_program_are_read() {
        let cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
            /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
            1 begincodespacerange <00> <FF> endcodespacerange\n\
            1 beginbfrange <0000> <FFFF> <0000> endbfrange\nendcmap end end";
        // The encrypted part of a Type 1 program is binary; its bytes are not syntax.
        let program = [
            b"%!PS-AdobeFont-1.0: Helvetica\n/FontMatrix [0.001 0 0 0.001 0 0] readonly def\n\
              /Encoding StandardEncoding def\ncurrentfile eexec\n"
                .as_slice(),
            &[0xD9, b'['].repeat(100),
        ]
        .concat();
        let t = to_text(
            &pdf_with_font_streams(cmap, &program),
            DocumentKind::Pdf,
            &Limits::default(),
        );
        assert_eq!(
            t.map(|t| t.text).unwrap(),
            "Dear Dr Khan, thank you for seeing her"
        );
    }

    /// adobe-cmap-parser would build one map entry per code: four billion of them.
    #[test]
    fn a_cmap_range_over_four_byte_codes_is_corrupt_not_exhausted_memory() {
        let cmap = b"1 beginbfrange <00000000> <FFFFFFFF> <00000041> endbfrange";
        let err = to_text(
            &pdf_with_font_streams(cmap, b""),
            DocumentKind::Pdf,
            &Limits::default(),
        );
        assert_eq!(err.unwrap_err(), CORRUPT);
    }

    /// type1-encoding-parser recurses once per procedure level: this would overflow
    /// the stack, which aborts the process.
    #[test]
    fn a_deeply_nested_font_program_is_corrupt_not_a_crash() {
        let program = [b"{".repeat(200_000), b"}".repeat(200_000)].concat();
        let err = to_text(
            &pdf_with_font_streams(b"", &program),
            DocumentKind::Pdf,
            &Limits::default(),
        );
        assert_eq!(err.unwrap_err(), CORRUPT);
    }

    /// Forms drawn again are not walked again, but their depth still counts from
    /// where they are drawn: chain B (15 forms) ends in chain A (20 forms), which the
    /// page drew first on its own.
    #[test]
    fn a_remembered_form_drawn_deeper_is_still_too_deep() {
        let chain = |first: usize, len: usize, last_draws: Option<usize>| {
            (0..len).map(move |k| {
                let next = if k + 1 < len { Some(first + k + 1) } else { last_draws };
                match next {
                    Some(n) => stream_object(
                        &format!("/Subtype /Form /BBox [0 0 1 1] /Resources << /XObject << /N {n} 0 R >> >>"),
                        b"/N Do",
                    ),
                    None => stream_object("/Subtype /Form /BBox [0 0 1 1] /Resources << >>", b""),
                }
            })
        };
        let document = |content: &[u8]| {
            let mut objects = vec![
                b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
                  /Resources << /XObject << /A 5 0 R /B 25 0 R >> >> /Contents 4 0 R >>"
                    .to_vec(),
                stream_object("", content),
            ];
            objects.extend(chain(5, 20, None));
            objects.extend(chain(25, 15, Some(5)));
            pdf_from_objects(&objects)
        };
        let limits = Limits::default();
        let alone = to_text(&document(b"/A Do"), DocumentKind::Pdf, &limits);
        assert_eq!(alone.unwrap_err(), DocumentError::NoTextLayer);
        let deeper = to_text(&document(b"/A Do /B Do"), DocumentKind::Pdf, &limits);
        assert_eq!(deeper.unwrap_err(), CORRUPT);
    }
}
