using Akka.Configuration;
using QueueActors.Storage;

namespace QueueActors;

/// <summary>Settings of the queue service; start from HOCON (<c>bluesky-queue { … }</c>), code overrides.</summary>
public sealed class QueueOptions
{
    /// <summary>The database file; null: <c>BLUESKY_QUEUE_DB</c>, else <c>~/.bluesky-poster/queue.sqlite3</c>.</summary>
    public string? DbPath { get; set; }

    /// <summary>An in-progress job whose lease is older than this is reclaimed.</summary>
    public TimeSpan StaleTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>How often the service reclaims stale leases; zero or less turns the timer off.</summary>
    public TimeSpan ReclaimInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The clock of the queue (leases, not_before, daily dates).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>How long a write waits for another process's write lock.</summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Commit durability.</summary>
    public SyncMode Synchronous { get; set; } = SyncMode.Full;

    /// <summary>The zone whose calendar date keys the daily counters (Beijing time by default).</summary>
    public TimeZoneInfo DailyTimeZone { get; set; } = QueueSettings.BeijingTime;

    /// <summary>A per-handle actor idle this long stops.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Most writes one group-commit transaction carries.</summary>
    public int MaxBatchSize { get; set; } = 256;

    /// <summary>Largest image a job may attach, in bytes.</summary>
    public long MaxImageBytes { get; set; } = 2_000_000;

    /// <summary>The dispatcher database calls run on.</summary>
    public string DbDispatcher { get; set; } = "bluesky-queue.db-dispatcher";

    /// <summary>The storage settings these options describe.</summary>
    public QueueSettings ToStorageSettings() => new()
    {
        DbPath = DbPath,
        TimeProvider = TimeProvider,
        BusyTimeout = BusyTimeout,
        Synchronous = Synchronous,
        DailyTimeZone = DailyTimeZone,
        MaxImageBytes = MaxImageBytes,
    };

    /// <summary>Options read from a <c>bluesky-queue</c> HOCON section (missing keys keep their defaults).</summary>
    public static QueueOptions FromConfig(Config? section)
    {
        var options = new QueueOptions();
        if (section is null || section.IsEmpty) return options;
        var path = section.GetString("db-path", "");
        if (!string.IsNullOrWhiteSpace(path)) options.DbPath = path;
        options.StaleTimeout = section.GetTimeSpan("stale-timeout", options.StaleTimeout, allowInfinite: false);
        options.ReclaimInterval = section.GetTimeSpan("reclaim-interval", options.ReclaimInterval, allowInfinite: false);
        options.BusyTimeout = section.GetTimeSpan("busy-timeout", options.BusyTimeout, allowInfinite: false);
        options.IdleTimeout = section.GetTimeSpan("idle-timeout", options.IdleTimeout, allowInfinite: false);
        options.MaxBatchSize = section.GetInt("max-batch-size", options.MaxBatchSize);
        options.MaxImageBytes = section.GetLong("max-image-bytes", options.MaxImageBytes);
        options.Synchronous = section.GetString("synchronous", "full").ToLowerInvariant() switch
        {
            "full" => SyncMode.Full,
            "normal" => SyncMode.Normal,
            "off" => SyncMode.Off,
            var other => throw new ConfigurationException(
                $"bluesky-queue.synchronous must be full, normal or off, not '{other}'"),
        };
        var offset = section.GetString("daily-utc-offset", "+08:00");
        if (!TimeSpan.TryParse(offset.TrimStart('+'), System.Globalization.CultureInfo.InvariantCulture, out var span))
            throw new ConfigurationException($"bluesky-queue.daily-utc-offset must look like +08:00, not '{offset}'");
        if (offset.StartsWith('-')) span = -span.Duration();
        if (span != TimeSpan.FromHours(8))
            options.DailyTimeZone = TimeZoneInfo.CreateCustomTimeZone($"UTC{offset}", span, $"UTC{offset}", $"UTC{offset}");
        return options;
    }
}
