-- Discovery on pgvector (>= 0.5; every statement here also runs on PostgreSQL 15): each analysed caption keeps its
-- sentence embedding, each creator the normalised mean of its biography's and recent captions' embeddings (the
-- definition is in protos/creator/v1/creator.proto, "Discovery"), with the languages and topics the filters use.
-- The administrator's bootstrap (following/dbroles.py) creates the `vector` extension in the schema `extensions`.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
        RAISE EXCEPTION 'the vector extension (pgvector >= 0.5) is missing: run python -m following.dbroles as an '
                        'administrator first (see deploy/README.md)';
    END IF;
END
$$;

ALTER TABLE creator.post_analyses ADD COLUMN embedding vector(384);

ALTER TABLE creator.creators
    ADD COLUMN bio_embedding       vector(384),
    ADD COLUMN bio_embedded_md5    text        NOT NULL DEFAULT '',
    ADD COLUMN embedding           vector(384),
    -- How many texts (biography and captions) the embedding averages, and when it was last computed.
    ADD COLUMN embedding_texts     integer     NOT NULL DEFAULT 0,
    ADD COLUMN embedding_updated_at timestamptz,
    -- CreatorSummary.languages and .topics, recomputed with the embedding.
    ADD COLUMN languages           text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN topics              text[]      NOT NULL DEFAULT '{}';

-- Approximate nearest neighbours by cosine distance (`<=>`); rows without an embedding are not indexed.
CREATE INDEX creators_embedding_hnsw ON creator.creators USING hnsw (embedding vector_cosine_ops);
