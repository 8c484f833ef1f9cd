-- Schema version 3: the root-cause knowledge base. A note names a test by its canonical id
-- (not a foreign key: a note may be written before, or outlive, the test's evidence).
-- `kind` is `note` for what people write and `diagnosis` for what `flakehound diagnose` finds.
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    test TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'note',
    category TEXT,
    text TEXT NOT NULL,
    link TEXT,
    author TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX notes_test ON notes(test, id);
