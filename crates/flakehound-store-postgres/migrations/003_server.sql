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
-- The team's quarantine (the server's; a repository keeps its own in .flakehound/quarantine.toml)
-- and who changed it, when and why.
CREATE TABLE server_quarantine (
    project text NOT NULL,
    test    text NOT NULL,
    reason  text NOT NULL,
    owner   text NOT NULL,
    added   text NOT NULL,
    expires text NOT NULL,
    issue   text,
    PRIMARY KEY (project, test)
);
CREATE TABLE quarantine_audit (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project text NOT NULL,
    test    text NOT NULL,
    action  text NOT NULL,
    actor   text NOT NULL,
    reason  text,
    at      text NOT NULL
);
CREATE INDEX quarantine_audit_project ON quarantine_audit (project, id);
