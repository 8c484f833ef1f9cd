-- Schema version 8: a project's CODEOWNERS carried by uploads of the default branch. Where the
-- kept text came from: `admin` (PUT /api/v1/codeowners: pinned, uploads leave it; the rows of
-- version 7 were all put by an admin) or `upload`; for an upload, the file's path in the
-- repository and the newest commit (its branch and committer time) that carried the text.
ALTER TABLE project_codeowners ADD COLUMN source text NOT NULL DEFAULT 'admin';
ALTER TABLE project_codeowners ADD COLUMN path text;
ALTER TABLE project_codeowners ADD COLUMN commit_sha text;
ALTER TABLE project_codeowners ADD COLUMN branch text;
ALTER TABLE project_codeowners ADD COLUMN commit_time text;
