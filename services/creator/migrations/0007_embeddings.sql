-- Embeddings for what was stored before captions had them: every caption analysed without an embedding goes back
-- to pending, so the analysis completer analyses it again (now with its embedding) and re-renders its creator's
-- report and embedding; no search is needed. Letterless captions ('no_text') have no embedding and stay done.
UPDATE creator.post_analyses
   SET state = 'pending', attempts = 0, last_error = '', next_attempt_at = now()
 WHERE state = 'done' AND status = 'analyzed' AND embedding IS NULL;

-- The creators the creator embedder has work for: a biography not embedded as it now reads (new, changed, or stored
-- before biographies were embedded), or an embedding never computed. Partial, so a pass over 100k creators with
-- nothing to do reads an empty index.
CREATE INDEX creators_embedding_due ON creator.creators (id)
 WHERE bio_embedded_md5 <> md5(biography) OR embedding_updated_at IS NULL;
