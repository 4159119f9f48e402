namespace QueueActors.Storage;

/// <summary>How SQLite makes commits durable (<c>PRAGMA synchronous</c>).</summary>
public enum SyncMode
{
    /// <summary>Every commit is fsynced before it is acknowledged: durable across power loss. The default.</summary>
    Full,
    /// <summary>WAL commits are fsynced only at checkpoints: safe against a crash of the process, not of the machine.</summary>
    Normal,
    /// <summary>Never fsyncs: for throwaway databases only.</summary>
    Off,
}

/// <summary>Settings of a <see cref="BlueskyQueue"/>.</summary>
public sealed record QueueSettings
{
    /// <summary>The database file; null means <see cref="BlueskyQueue.DefaultDbPath"/> (or <c>BLUESKY_QUEUE_DB</c>).</summary>
    public string? DbPath { get; init; }

    /// <summary>The clock every time in the queue comes from.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>How long a write waits for another connection's write lock before it fails.</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Commit durability; <see cref="SyncMode.Full"/> unless a benchmark says otherwise.</summary>
    public SyncMode Synchronous { get; init; } = SyncMode.Full;

    /// <summary>The zone whose calendar date keys the daily counters; Beijing time (UTC+8) by default.</summary>
    public TimeZoneInfo DailyTimeZone { get; init; } = BeijingTime;

    /// <summary>The largest image file a job may attach, in bytes.</summary>
    public long MaxImageBytes { get; init; } = 2_000_000;

    /// <summary>WAL pages after which a commit checkpoints the log (<c>PRAGMA wal_autocheckpoint</c>).</summary>
    public int WalAutoCheckpointPages { get; init; } = 1000;

    /// <summary>Page cache per connection in KiB (<c>PRAGMA cache_size</c> as a negative number).</summary>
    public int CacheSizeKiB { get; init; } = 8192;

    /// <summary>UTC+8 with no daylight saving: the calendar the card counts days in.</summary>
    public static TimeZoneInfo BeijingTime { get; } =
        TimeZoneInfo.CreateCustomTimeZone("Beijing", TimeSpan.FromHours(8), "Beijing (UTC+8)", "Beijing (UTC+8)");
}
