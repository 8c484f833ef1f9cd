-- Schema version 3: what the team server keeps beside the evidence (flakehound-store's Admin):
-- the projects it serves, their tokens (only a SHA-256 of each secret) and the uploads it
-- answered. Every replica of the server reads the same rows.
CREATE TABLE server_projects (
    name       text PRIMARY KEY,
    created_at text NOT NULL
);
CREATE TABLE tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project      text NOT NULL,
    scope        text NOT NULL,
    label        text,
    hash         text NOT NULL UNIQUE,
    prefix       text NOT NULL,
    created_at   text NOT NULL,
    expires_at   text,
    revoked_at   text,
    last_used_at text
);
CREATE TABLE uploads (
    id          text PRIMARY KEY,
    project     text NOT NULL,
    token_id    bigint,
    received_at text NOT NULL,
    response    text NOT NULL
);
