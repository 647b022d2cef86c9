#!/usr/bin/env python3
"""Writes fixtures/letters/formats/<NAME>.{pdf,docx,rtf,html} from fixtures/letters/<NAME>.txt.

The same synthetic letter in every format refgate reads, so tests can check that each
format gives the record the text gives. Standard library only; rerun after editing a
letter: python3 scripts/letter-formats.py F01 F07
"""
import html
import os
import sys
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def pdf(lines, lines_per_page=60, pages=None):
    def esc(s):
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    pages = pages or [lines[i:i + lines_per_page] for i in range(0, len(lines), lines_per_page)] or [[]]
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for i, page in enumerate(pages):
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                    f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode())
        body = "BT /F1 10 Tf 13 TL 56 790 Td\n" + "".join(f"({esc(l)}) Tj T*\n" for l in page) + "ET"
        data = body.encode("cp1252", "replace")
        objs.append(f"<< /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def docx(lines, path):
    paras = "".join(
        f"<w:p><w:r><w:t xml:space=\"preserve\">{html.escape(l)}</w:t></w:r></w:p>" for l in lines)
    document = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                f"<w:body>{paras}</w:body></w:document>")
    types = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             '<Default Extension="xml" ContentType="application/xml"/>'
             '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in (("[Content_Types].xml", types), ("_rels/.rels", rels), ("word/document.xml", document)):
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


def rtf(lines):
    def esc(s):
        out = []
        for ch in s:
            if ch in "\\{}":
                out.append("\\" + ch)
            elif ord(ch) < 128:
                out.append(ch)
            else:
                out.append(f"\\u{ord(ch)}?")
        return "".join(out)
    body = "\\par\n".join(esc(l) for l in lines)
    return ("{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Arial;}}"
            "{\\*\\generator refgate fixtures;}\\f0\\fs22\n" + body + "\\par\n}").encode("ascii")


def to_html(lines):
    paras = "\n".join(f"<p>{html.escape(l)}</p>" if l.strip() else "<p></p>" for l in lines)
    return ("<!DOCTYPE html><html><head><title>Clinic letter</title><style>p{margin:0}</style>"
            f"</head><body>\n{paras}\n</body></html>\n").encode("utf-8")


def main(names):
    out_dir = os.path.join(ROOT, "fixtures", "letters", "formats")
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        with open(os.path.join(ROOT, "fixtures", "letters", f"{name}.txt"), encoding="utf-8") as f:
            lines = f.read().splitlines()
        with open(os.path.join(out_dir, f"{name}.pdf"), "wb") as f:
            f.write(pdf(lines))
        docx(lines, os.path.join(out_dir, f"{name}.docx"))
        with open(os.path.join(out_dir, f"{name}.rtf"), "wb") as f:
            f.write(rtf(lines))
        with open(os.path.join(out_dir, f"{name}.html"), "wb") as f:
            f.write(to_html(lines))


def two_page():
    """A two-page letter for the benchmark: L14 continues onto a second page."""
    with open(os.path.join(ROOT, "fixtures", "letters", "L14.txt"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    half = len(lines) // 2
    with open(os.path.join(ROOT, "fixtures", "letters", "formats", "two-page.pdf"), "wb") as f:
        f.write(pdf(None, pages=[lines[:half], lines[half:]]))


if __name__ == "__main__":
    main(sys.argv[1:] or ["F01", "F07"])
    two_page()
