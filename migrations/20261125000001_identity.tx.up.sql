CREATE TABLE workspaces (
    id          bigserial   PRIMARY KEY,
    name        text        NOT NULL,
    owner_id    bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workspaces_name_key UNIQUE (name),
    CONSTRAINT workspaces_name_check CHECK (name <> '')
);

CREATE TABLE users (
    id            bigserial   PRIMARY KEY,
    workspace_id  bigint      NOT NULL,
    email         text        NOT NULL,
    fullname      text        NOT NULL,
    password_hash text        NOT NULL,
    role          text        NOT NULL DEFAULT 'member',
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_role_check CHECK (role IN ('owner', 'admin', 'member'))
);

-- The directory lists a workspace's users by id.
CREATE INDEX users_workspace_id_idx ON users (workspace_id, id);

CREATE TABLE refresh_tokens (
    id          bigserial   PRIMARY KEY,
    user_id     bigint      NOT NULL,
    family_id   text        NOT NULL,
    hash        text        NOT NULL,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    used_at     timestamptz,
    revoked_at  timestamptz,
    CONSTRAINT refresh_tokens_hash_key UNIQUE (hash)
);

CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);

CREATE TABLE invites (
    code          text        PRIMARY KEY,
    workspace_id  bigint      NOT NULL,
    created_by    bigint      NOT NULL,
    max_uses      integer     NOT NULL,
    uses          integer     NOT NULL DEFAULT 0,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT invites_uses_check CHECK (max_uses >= 1 AND uses >= 0 AND uses <= max_uses)
);

CREATE INDEX invites_workspace_id_idx ON invites (workspace_id);
