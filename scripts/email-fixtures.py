#!/usr/bin/env python3
"""Writes fixtures/emails/FE04.eml ... FE12.eml: synthetic referral emails carrying
the synthetic letters of fixtures/emails/letters/E01.txt ... E05.txt in every way
referrers send them (body, DOCX, PDF, quoted-printable,
HTML only, forwarded chains, cover note + letter + supporting documents,
windows-1252). The expected records are fixtures/truth/FE04.json ... (hand-written).

Invented people; NHS numbers from the 999 test range passing modulus 11; phone numbers
from the drama ranges; example domains. PDFs and DOCX are made the way
scripts/letter-formats.py makes them. Standard library only, and deterministic (fixed
boundaries, dates and ids), so rerunning gives the same bytes:
    python3 scripts/email-fixtures.py
"""
import base64
import importlib.util
import os
import quopri

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "fixtures", "emails")

_spec = importlib.util.spec_from_file_location(
    "letter_formats", os.path.join(ROOT, "scripts", "letter-formats.py"))
formats = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(formats)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def letter(name):
    """A carried letter: fixtures/emails/letters/<name>.txt (UTF-8)."""
    with open(os.path.join(OUT, "letters", f"{name}.txt"), encoding="utf-8") as f:
        return f.read()


TURNER = letter("E01")
OKAFOR = letter("E02")
NOWAK = letter("E03")
HOLLAND = letter("E04")
ONEILL = letter("E05")

COVER = """Hello,

Please find attached a referral letter from {who}.

Kind regards

{sec}
Medical Secretary
"""

DISCLAIMER = """
********************************************************************
This e-mail and any attachments are confidential. If you are not the intended
recipient please tell the sender and delete it.
********************************************************************
"""


def headers(n, sender, subject, date, extra=""):
    return (
        f"Received: from mail.example.nhs.uk (mail.example.nhs.uk [192.0.2.25]) by\r\n"
        f" mx1.example.nhs.uk with ESMTPS id 5Fe{n:05d}; {date}\r\n"
        f"Date: {date}\r\n"
        f"From: {sender}\r\n"
        f"To: TT Referrals <talkingtherapies.referrals@example.nhs.uk>\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <fe{n:02d}.20250601@mail.example.nhs.uk>\r\n"
        f"MIME-Version: 1.0\r\n{extra}"
    )


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def b64(data):
    enc = base64.b64encode(data).decode("ascii")
    return "\r\n".join(enc[i:i + 76] for i in range(0, len(enc), 76))


def text_part(body, charset="utf-8", cte="7bit"):
    if cte == "quoted-printable":
        payload = quopri.encodestring(body.encode(charset)).decode("ascii")
    else:
        payload = body
    return (f"Content-Type: text/plain; charset=\"{charset}\"\r\n"
            f"Content-Transfer-Encoding: {cte}\r\n\r\n" + crlf(payload))


def attachment(media_type, name, data):
    return (f"Content-Type: {media_type}; name=\"{name}\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n" + b64(data))


def multipart(subtype, boundary, parts):
    out = f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n"
    out += "This is a multi-part message in MIME format.\r\n"
    for p in parts:
        out += f"\r\n--{boundary}\r\n" + p
    return out + f"\r\n--{boundary}--\r\n"


def lines(letter):
    return letter.rstrip("\n").split("\n")


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def main():
    os.makedirs(OUT, exist_ok=True)
    date = "Wed, 14 May 2025 16:40:00 +0100"

    # FE04: the letter in a plain 7bit body, under a short note, above a disclaimer.
    body = "Dear team,\n\nPlease accept the referral below.\n\nAiredale Rheumatology Secretaries\n\n" + TURNER + DISCLAIMER
    write("FE04.eml", headers(4, "Airedale Rheumatology <airedale.rheum@example.nhs.uk>",
                              "Referral - Mrs R Turner", date) + text_part(body))

    # FE05: cover note + the letter as DOCX.
    docx_path = os.path.join(OUT, ".FE05.docx")
    formats.docx(lines(OKAFOR), docx_path)
    with open(docx_path, "rb") as f:
        docx_bytes = f.read()
    os.remove(docx_path)
    cover = COVER.format(who="Dr Natarajan", sec="Moira Lennox")
    write("FE05.eml", headers(5, "Moira Lennox <moira.lennox@example.nhs.uk>", "Referral",
                              "Mon, 03 Mar 2025 11:05:00 +0000")
          + multipart("mixed", "==fe05==", [text_part(cover), attachment(DOCX, "Referral OKAFOR.docx", docx_bytes)]))

    # FE06: cover note + the letter as PDF (declared application/octet-stream, as some
    # clinic systems send it: the content decides).
    cover = COVER.format(who="Mr Ellison", sec="Janet Pryce")
    write("FE06.eml", headers(6, "Janet Pryce <janet.pryce@example.nhs.uk>", "Spinal clinic letter",
                              "Mon, 21 Oct 2024 15:12:00 +0100")
          + multipart("mixed", "==fe06==", [text_part(cover), attachment("application/octet-stream", "letter.pdf", formats.pdf(lines(NOWAK)))]))

    # FE07: the letter in a quoted-printable UTF-8 body (soft line breaks, =E2=80=99).
    write("FE07.eml", headers(7, "Sarah Quinn <sarah.quinn@example.nhs.uk>", "Urgent referral",
                              "Thu, 09 Jan 2025 17:30:00 +0000")
          + text_part(HOLLAND, cte="quoted-printable"))

    # FE08: HTML only (an Outlook-style body with a signature table).
    paras = "".join(f"<p>{formats.html.escape(p).replace(chr(10), '<br>')}</p>\n" for p in TURNER.split("\n\n"))
    html_doc = ("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head>"
                "<body style=\"font-family:Arial\">\n" + paras + "</body></html>\n")
    qp = quopri.encodestring(html_doc.encode("utf-8")).decode("ascii")
    write("FE08.eml", headers(8, "Dr Helen Mackay <helen.mackay@example.nhs.uk>", "Referral",
                              date)
          + "Content-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + crlf(qp))

    # FE09: a forwarded chain inline: a Gmail-style forward of an Outlook forward; the
    # letter is the innermost message.
    chain = ("Forwarding to the right address - sorry, this came to me by mistake.\n\nTom Riley\nPractice Manager\n\n"
             "---------- Forwarded message ---------\n"
             "From: Meadowbank Reception <reception.meadowbank@example.nhs.uk>\n"
             "Date: Mon, 3 Mar 2025 at 10:02\n"
             "Subject: FW: Referral\n"
             "To: Tom Riley <tom.riley@example.nhs.uk>\n\n"
             "Tom, can you send this on to Talking Therapies please?\n\n"
             "-----Original Message-----\n"
             "From: Dr Priya Natarajan\n"
             "Sent: 03 March 2025 09:41\n"
             "To: Meadowbank Reception\n"
             "Subject: Referral\n\n" + OKAFOR)
    write("FE09.eml", headers(9, "Tom Riley <tom.riley@example.nhs.uk>", "Fwd: FW: Referral",
                              "Mon, 03 Mar 2025 12:00:00 +0000") + text_part(chain))

    # FE10: a forwarded chain as an attached message/rfc822 whose own message carries
    # the letter as a DOCX under a cover note.
    docx_path = os.path.join(OUT, ".FE10.docx")
    formats.docx(lines(ONEILL), docx_path)
    with open(docx_path, "rb") as f:
        docx_bytes = f.read()
    os.remove(docx_path)
    inner = (headers(110, "Kate Ward <kate.ward@example.nhs.uk>", "Referral O'Neill", "Thu, 12 Jun 2025 09:00:00 +0100")
             + multipart("mixed", "==fe10-inner==", [text_part(COVER.format(who="Dr Mensah", sec="Kate Ward")),
                                                     attachment(DOCX, "ONeill.docx", docx_bytes)]))
    outer_note = "FYI - forwarded as an attachment as requested.\n\nKate\n"
    write("FE10.eml", headers(10, "Kate Ward <kate.ward@example.nhs.uk>", "Fwd: Referral O'Neill",
                              "Thu, 12 Jun 2025 09:30:00 +0100")
          + multipart("mixed", "==fe10==", [text_part(outer_note),
                                            "Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n" + inner]))

    # FE11: cover note + the letter (PDF) + supporting documents (blood results as text,
    # a clinic summary PDF): the letter is the PDF that reads like a letter.
    bloods = "Pathology results\n\nFBC: normal\nCRP: 4 mg/L\nVitamin D: 48 nmol/L\nTSH: 1.9 mU/L\n"
    summary = ["Clinic summary", "", "Seen in rheumatology clinic.", "Plan: continue pacing programme.", "Review in six months."]
    cover = COVER.format(who="Dr Mackay", sec="Gill Hartley") + "\nI have also attached her recent bloods and the clinic summary.\n"
    write("FE11.eml", headers(11, "Gill Hartley <gill.hartley@example.nhs.uk>", "Referral with attachments",
                              date)
          + multipart("mixed", "==fe11==", [
              text_part(cover),
              attachment("text/plain", "bloods.txt", bloods.encode("utf-8")),
              attachment("application/pdf", "Turner referral.pdf", formats.pdf(lines(TURNER))),
              attachment("application/pdf", "clinic summary.pdf", formats.pdf(summary)),
          ]))

    # FE12: the letter in an 8bit windows-1252 body (Outlook on an old clinic system):
    # curly apostrophes are 0x92 and the pound sign 0xA3.
    raw = headers(12, "Bradford MSK <bradford.msk@example.nhs.uk>", "Referral", "Thu, 12 Jun 2025 14:00:00 +0100")
    raw += "Content-Type: text/plain; charset=\"windows-1252\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    write("FE12.eml", raw.encode("ascii") + crlf(ONEILL).encode("cp1252"))


if __name__ == "__main__":
    main()
