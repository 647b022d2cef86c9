-- Supporting documents: sent with a referral's letter (an email's other
-- attachments), delivered with it. Patient data is sealed (AES-256-GCM): the
-- file name as well as the bytes; only the media type is readable.
CREATE TABLE referral_documents (
    referral_id     TEXT NOT NULL REFERENCES referrals (id),
    seq             INTEGER NOT NULL,
    media_type      TEXT NOT NULL,
    name_sealed     BLOB,
    document_sealed BLOB NOT NULL,
    PRIMARY KEY (referral_id, seq)
);
