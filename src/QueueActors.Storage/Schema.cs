using Microsoft.Data.Sqlite;

namespace QueueActors.Storage;

/// <summary>
/// The schema and its migrations, in order. Version 1 is the task card's DDL to the letter, so a
/// database another program made from the card is simply at version 0 or 1 and upgrades from there.
/// Everything the design adds is nullable or defaulted, so the card's own readers and writers keep working.
/// </summary>
internal static class Schema
{
    /// <summary>The version this code writes; <c>PRAGMA user_version</c> holds the file's.</summary>
    public const int CurrentVersion = 5;

    /// <summary>The card's DDL, unchanged.</summary>
    public const string CardDdl = """
        CREATE TABLE IF NOT EXISTS jobs (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            not_before TEXT NOT NULL DEFAULT (datetime('now')),
            text TEXT NOT NULL,
            reply_to_uri TEXT,
            reply_to_cid TEXT,
            image_path TEXT,
            image_alt TEXT,
            expected_handle TEXT NOT NULL,
            dry_run INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'queued',
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL DEFAULT 3,
            last_error TEXT,
            result_uri TEXT,
            result_url TEXT,
            posted_at TEXT
        );

        CREATE INDEX IF NOT EXISTS idx_jobs_claim
        ON jobs(status, expected_handle, not_before)
        WHERE status = 'queued';

        CREATE INDEX IF NOT EXISTS idx_jobs_cleanup
        ON jobs(status, posted_at)
        WHERE status IN ('posted', 'failed');

        CREATE TABLE IF NOT EXISTS daily_posts (
            handle TEXT NOT NULL,
            date TEXT NOT NULL,
            post_count INTEGER NOT NULL DEFAULT 0,
            reply_count INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (handle, date)
        );
        """;

    // A time another writer stored in a form that does not sort as text with ours
    // ('T' separator, 'Z', or an offset after the seconds) is rewritten to the canonical form.
    private const string NeedsNormalising = "({0} GLOB '*[TtZz+]*' OR substr({0}, 20) GLOB '*-*')";

    // strftime keeps milliseconds only (SQLite computes times in whole ms, rounding), which would
    // reorder rows that differ by microseconds and would not give the canonical form. So strftime
    // converts the text without its fraction (an offset is whole minutes: it never touches the
    // fraction), and the fraction's digits are carried over as written, padded or cut to six.
    private static string Normalise(string column) => $"COALESCE({NormaliseOrNull(column)}, {column})";

    /// <summary>The canonical form of a time SQLite can read, else NULL.</summary>
    private static string NormaliseOrNull(string column)
    {
        string tail = $"substr({column}, 21)";
        string digits = $"substr({tail}, 1, length({tail}) - length(ltrim({tail}, '0123456789')))";
        return $"(CASE WHEN substr({column}, 20, 1) = '.' "
            + $"THEN strftime('%Y-%m-%d %H:%M:%S', substr({column}, 1, 19) || ltrim({tail}, '0123456789')) "
            + $"|| '.' || substr({digits} || '000000', 1, 6) "
            + $"ELSE strftime('%Y-%m-%d %H:%M:%S', {column}) || '.000000' END)";
    }

    /// <summary>True when the text is a UTC time in the form claims compare as text: <c>YYYY-MM-DD HH:MM:SS[.digits]</c>, a real date.</summary>
    private static string IsCanonical(string column) =>
        $"({column} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]*' "
        + $"AND (length({column}) = 19 OR (substr({column}, 20, 1) = '.' AND length({column}) > 20 AND NOT substr({column}, 21) GLOB '*[^0-9]*')) "
        + $"AND julianday(substr({column}, 1, 19)) IS NOT NULL)"; // whole seconds: SQLite rounds .9995 up past 9999-12-31

    /// <summary>True when the text is canonical or can be made so.</summary>
    private static string IsReadable(string column) =>
        $"({IsCanonical(column)} OR {IsCanonical($"COALESCE({NormaliseOrNull(column)}, '')")})";

    private const string UnreadableTime =
        "unreadable time: write UTC as YYYY-MM-DD HH:MM:SS[.ffffff], or ISO 8601 with Z or an offset such as +08:00";

    private const string CanonicalDailyHandle = "lower(CASE WHEN handle GLOB '@*' THEN substr(handle, 2) ELSE handle END)";

    /// <summary>Leases, canonical times and handles for every writer, and indexes that keep claims cheap.</summary>
    private static readonly string V2 = $"""
        ALTER TABLE jobs ADD COLUMN claimed_at TEXT;
        ALTER TABLE jobs ADD COLUMN finished_at TEXT;

        UPDATE jobs SET created_at = {Normalise("created_at")} WHERE {string.Format(NeedsNormalising, "created_at")};
        UPDATE jobs SET not_before = {Normalise("not_before")} WHERE {string.Format(NeedsNormalising, "not_before")};
        UPDATE jobs SET posted_at = {Normalise("posted_at")} WHERE {string.Format(NeedsNormalising, "posted_at")};
        UPDATE jobs SET expected_handle = lower(substr(expected_handle, 2)) WHERE expected_handle GLOB '@*';
        UPDATE jobs SET expected_handle = lower(expected_handle) WHERE expected_handle <> lower(expected_handle);
        UPDATE jobs SET claimed_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE status = 'in_progress';
        -- Counters kept under spellings of one handle ('Alice…', '@alice…') are merged into its canonical row.
        INSERT INTO daily_posts (handle, date, post_count, reply_count)
            SELECT {CanonicalDailyHandle} AS canonical, date, SUM(post_count), SUM(reply_count)
            FROM daily_posts WHERE handle <> {CanonicalDailyHandle}
            GROUP BY canonical, date
            ON CONFLICT (handle, date) DO UPDATE SET post_count = post_count + excluded.post_count,
                                                     reply_count = reply_count + excluded.reply_count;
        DELETE FROM daily_posts WHERE handle <> {CanonicalDailyHandle};

        CREATE TRIGGER jobs_canonical_insert AFTER INSERT ON jobs
        WHEN {string.Format(NeedsNormalising, "NEW.created_at")} OR {string.Format(NeedsNormalising, "NEW.not_before")}
          OR NEW.expected_handle <> lower(NEW.expected_handle) OR NEW.expected_handle GLOB '@*'
        BEGIN
            UPDATE jobs SET
                created_at = {Normalise("created_at")},
                not_before = {Normalise("not_before")},
                expected_handle = lower(CASE WHEN expected_handle GLOB '@*' THEN substr(expected_handle, 2) ELSE expected_handle END)
            WHERE rowid = NEW.rowid;
        END;

        CREATE TRIGGER jobs_canonical_update AFTER UPDATE OF not_before, posted_at ON jobs
        WHEN {string.Format(NeedsNormalising, "NEW.not_before")} OR {string.Format(NeedsNormalising, "NEW.posted_at")}
        BEGIN
            UPDATE jobs SET not_before = {Normalise("not_before")}, posted_at = {Normalise("posted_at")}
            WHERE rowid = NEW.rowid;
        END;

        -- Another program's claim sets no lease time: start its lease now, so it is not reclaimed at once.
        CREATE TRIGGER jobs_lease_start AFTER UPDATE OF status ON jobs
        WHEN NEW.status = 'in_progress' AND NEW.claimed_at IS NULL
        BEGIN
            UPDATE jobs SET claimed_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE rowid = NEW.rowid;
        END;

        -- The card's idx_jobs_claim leads with status and handle: a claim for any handle would sort
        -- every queued row. These serve both claims in claim order, whatever the queue's size.
        CREATE INDEX idx_jobs_due ON jobs(not_before, created_at) WHERE status = 'queued';
        CREATE INDEX idx_jobs_handle_due ON jobs(expected_handle, not_before, created_at) WHERE status = 'queued';
        CREATE INDEX idx_jobs_lease ON jobs(claimed_at) WHERE status = 'in_progress';
        CREATE INDEX idx_jobs_finished ON jobs(finished_at) WHERE status IN ('posted', 'failed');
        """;

    /// <summary>Fencing tokens, pre-assigned record keys and idempotent enqueue.</summary>
    private const string V3 = """
        ALTER TABLE jobs ADD COLUMN claim_token TEXT;
        ALTER TABLE jobs ADD COLUMN record_key TEXT;
        ALTER TABLE jobs ADD COLUMN idempotency_key TEXT;
        CREATE UNIQUE INDEX idx_jobs_record_key ON jobs(record_key) WHERE record_key IS NOT NULL;
        CREATE UNIQUE INDEX idx_jobs_idempotency_key ON jobs(idempotency_key) WHERE idempotency_key IS NOT NULL;
        """;

    /// <summary>
    /// Leases and times that other writers cannot get wrong. A time SQLite cannot read (a Unix number,
    /// an offset without a colon, a zone name) made claims fail or compare as text in the wrong order:
    /// such a write is now refused with an error the writer sees, and rows already stored that way are
    /// failed with the reason. Another program's claim starts a fresh lease even when the job had one
    /// before; a row inserted as in_progress gets one too. Idempotency keys remember what they named.
    /// </summary>
    private static readonly string V4 = $"""
        ALTER TABLE jobs ADD COLUMN idempotency_hash TEXT;
        UPDATE jobs SET claimed_at = NULL WHERE status <> 'in_progress';
        UPDATE jobs SET status = 'failed', claim_token = NULL, claimed_at = NULL, finished_at = strftime('%Y-%m-%d %H:%M:%f', 'now'),
            last_error = 'not claimable: unreadable time in not_before (' || not_before || ') or created_at (' || created_at || ')'
        WHERE status = 'queued' AND NOT ({IsCanonical("not_before")} AND {IsCanonical("created_at")});

        DROP TRIGGER jobs_canonical_insert;
        DROP TRIGGER jobs_canonical_update;
        DROP TRIGGER jobs_lease_start;

        CREATE TRIGGER jobs_canonical_insert AFTER INSERT ON jobs
        WHEN NOT {IsCanonical("NEW.created_at")} OR NOT {IsCanonical("NEW.not_before")}
          OR NEW.expected_handle <> lower(NEW.expected_handle) OR NEW.expected_handle GLOB '@*'
        BEGIN
            SELECT RAISE(ABORT, 'jobs.created_at: {UnreadableTime}') WHERE NOT {IsReadable("NEW.created_at")};
            SELECT RAISE(ABORT, 'jobs.not_before: {UnreadableTime}') WHERE NOT {IsReadable("NEW.not_before")};
            UPDATE jobs SET
                created_at = {Normalise("created_at")},
                not_before = {Normalise("not_before")},
                expected_handle = lower(CASE WHEN expected_handle GLOB '@*' THEN substr(expected_handle, 2) ELSE expected_handle END)
            WHERE rowid = NEW.rowid;
        END;

        CREATE TRIGGER jobs_canonical_update AFTER UPDATE OF not_before, posted_at ON jobs
        WHEN (NEW.not_before IS NOT OLD.not_before AND NOT {IsCanonical("NEW.not_before")})
          OR (NEW.posted_at IS NOT NULL AND NEW.posted_at IS NOT OLD.posted_at AND NOT {IsCanonical("NEW.posted_at")})
        BEGIN
            SELECT RAISE(ABORT, 'jobs.not_before: {UnreadableTime}') WHERE NEW.not_before IS NOT OLD.not_before AND NOT {IsReadable("NEW.not_before")};
            SELECT RAISE(ABORT, 'jobs.posted_at: {UnreadableTime}') WHERE NEW.posted_at IS NOT NULL AND NEW.posted_at IS NOT OLD.posted_at AND NOT {IsReadable("NEW.posted_at")};
            UPDATE jobs SET not_before = {Normalise("not_before")}, posted_at = {Normalise("posted_at")}
            WHERE rowid = NEW.rowid;
        END;

        -- A claim without a token of ours is another program's: its lease starts now, whatever the job held before.
        CREATE TRIGGER jobs_lease_start AFTER UPDATE OF status ON jobs
        WHEN NEW.status = 'in_progress' AND OLD.status <> 'in_progress' AND NEW.claim_token IS OLD.claim_token
        BEGIN
            UPDATE jobs SET claimed_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE rowid = NEW.rowid;
        END;

        CREATE TRIGGER jobs_lease_start_insert AFTER INSERT ON jobs
        WHEN NEW.status = 'in_progress' AND NEW.claimed_at IS NULL
        BEGIN
            UPDATE jobs SET claimed_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE rowid = NEW.rowid;
        END;
        """;

    /// <summary>
    /// Finds a claim by its token, so a retried claim gets back the job it took the first time.
    /// Another program changing a job's status leaves our claim token behind: it no longer holds the
    /// job, so it is dropped, and neither a retried claim nor a fenced report can use it.
    /// </summary>
    private const string V5 = """
        CREATE INDEX idx_jobs_claim_token ON jobs(claim_token) WHERE claim_token IS NOT NULL;
        UPDATE jobs SET claim_token = NULL WHERE status <> 'in_progress' AND claim_token IS NOT NULL;

        CREATE TRIGGER jobs_foreign_status_drops_token AFTER UPDATE OF status ON jobs
        WHEN NEW.status IS NOT OLD.status AND NEW.claim_token IS OLD.claim_token AND NEW.claim_token IS NOT NULL
        BEGIN
            UPDATE jobs SET claim_token = NULL WHERE rowid = NEW.rowid;
        END;
        """;

    /// <summary>Brings the open database up to <paramref name="targetVersion"/> inside one immediate transaction.</summary>
    /// <returns>The version found before migrating.</returns>
    public static int Migrate(SqliteConnection connection, RecordKeys keys, int targetVersion = CurrentVersion)
    {
        // A current database needs no write lock to open: readers keep working while another process writes.
        int current = UserVersion(connection);
        if (current == targetVersion) return current;
        using var tx = connection.BeginTransaction(deferred: false);
        int version = UserVersion(connection, tx);
        if (version > CurrentVersion)
            throw new InvalidOperationException(
                $"the database is at schema version {version}, newer than this program's {CurrentVersion}");
        int found = version;
        while (version < targetVersion)
        {
            version++;
            switch (version)
            {
                case 1: Execute(connection, tx, CardDdl); break;
                case 2: Execute(connection, tx, V2); break;
                case 3:
                    Execute(connection, tx, V3);
                    BackfillRecordKeys(connection, tx, keys);
                    break;
                case 4: Execute(connection, tx, V4); break;
                case 5: Execute(connection, tx, V5); break;
            }
            Execute(connection, tx, $"PRAGMA user_version = {version};");
        }
        tx.Commit();
        return found;
    }

    public static int UserVersion(SqliteConnection connection, SqliteTransaction? tx = null)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(cmd.ExecuteScalar());
    }

    private static void BackfillRecordKeys(SqliteConnection connection, SqliteTransaction tx, RecordKeys keys)
    {
        var ids = new List<long>();
        using (var select = connection.CreateCommand())
        {
            select.Transaction = tx;
            select.CommandText = "SELECT rowid FROM jobs WHERE record_key IS NULL ORDER BY rowid;";
            using var reader = select.ExecuteReader();
            while (reader.Read()) ids.Add(reader.GetInt64(0));
        }
        using var update = connection.CreateCommand();
        update.Transaction = tx;
        update.CommandText = "UPDATE jobs SET record_key = $key WHERE rowid = $rowid;";
        var key = update.Parameters.Add("$key", SqliteType.Text);
        var rowid = update.Parameters.Add("$rowid", SqliteType.Integer);
        foreach (long id in ids)
        {
            key.Value = keys.Next();
            rowid.Value = id;
            update.ExecuteNonQuery();
        }
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction tx, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
