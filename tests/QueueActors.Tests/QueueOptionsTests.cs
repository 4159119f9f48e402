using Akka.Configuration;
using QueueActors.Storage;
using Xunit;

namespace QueueActors.Tests;

/// <summary><see cref="QueueOptions.FromConfig"/>: every key of the <c>bluesky-queue</c> section, and clear errors.</summary>
public sealed class QueueOptionsTests
{
    [Fact]
    public void The_shipped_hocon_gives_the_documented_defaults()
    {
        var options = QueueOptions.FromConfig(DefaultSection());
        var defaults = new QueueOptions();

        Assert.Null(options.DbPath);
        Assert.Equal(TimeSpan.FromSeconds(300), options.StaleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), options.ReclaimInterval);
        Assert.Equal(defaults.BusyTimeout, options.BusyTimeout);
        Assert.Equal(defaults.IdleTimeout, options.IdleTimeout);
        Assert.Equal(defaults.MaxBatchSize, options.MaxBatchSize);
        Assert.Equal(2_000_000, options.MaxImageBytes);
        Assert.Equal(SyncMode.Full, options.Synchronous);
        Assert.Same(QueueSettings.BeijingTime, options.DailyTimeZone);
        Assert.Equal("bluesky-queue.db-dispatcher", options.DbDispatcher);
        Assert.True(ConfigurationFactory.ParseString(QueueHostingExtensions.DefaultHocon).HasPath(options.DbDispatcher));
    }

    [Fact]
    public void Every_key_is_read()
    {
        var section = ConfigurationFactory.ParseString(
            """
            bluesky-queue {
              db-path = "/var/lib/bluesky/queue.sqlite3"
              stale-timeout = 10m
              reclaim-interval = 5s
              busy-timeout = 750ms
              synchronous = NORMAL
              daily-utc-offset = "-05:00"
              idle-timeout = 2m
              max-batch-size = 64
              max-image-bytes = 1000000
            }
            """).GetConfig("bluesky-queue");

        var options = QueueOptions.FromConfig(section);

        Assert.Equal("/var/lib/bluesky/queue.sqlite3", options.DbPath);
        Assert.Equal(TimeSpan.FromMinutes(10), options.StaleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ReclaimInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(750), options.BusyTimeout);
        Assert.Equal(SyncMode.Normal, options.Synchronous);
        Assert.Equal(TimeSpan.FromHours(-5), options.DailyTimeZone.BaseUtcOffset);
        Assert.Equal(TimeSpan.FromMinutes(2), options.IdleTimeout);
        Assert.Equal(64, options.MaxBatchSize);
        Assert.Equal(1_000_000, options.MaxImageBytes);
    }

    [Fact]
    public void Keys_missing_from_the_section_keep_their_defaults()
    {
        var options = QueueOptions.FromConfig(ConfigurationFactory.ParseString("stale-timeout = 42s"));

        Assert.Equal(TimeSpan.FromSeconds(42), options.StaleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), options.ReclaimInterval);
        Assert.Null(options.DbPath);
        Assert.Equal(SyncMode.Full, options.Synchronous);
    }

    [Fact]
    public void No_section_at_all_gives_the_defaults()
    {
        Assert.Equal(TimeSpan.FromSeconds(300), QueueOptions.FromConfig(null).StaleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(300), QueueOptions.FromConfig(Config.Empty).StaleTimeout);
    }

    [Fact]
    public void A_daily_offset_other_than_beijing_makes_a_zone_of_that_offset()
    {
        var options = QueueOptions.FromConfig(ConfigurationFactory.ParseString("daily-utc-offset = \"+05:30\""));

        Assert.Equal(new TimeSpan(5, 30, 0), options.DailyTimeZone.BaseUtcOffset);
    }

    [Theory]
    [InlineData("full", SyncMode.Full)]
    [InlineData("normal", SyncMode.Normal)]
    [InlineData("off", SyncMode.Off)]
    public void Every_synchronous_mode_is_read(string value, SyncMode expected)
    {
        Assert.Equal(expected, QueueOptions.FromConfig(ConfigurationFactory.ParseString($"synchronous = {value}")).Synchronous);
    }

    [Fact]
    public void A_bad_synchronous_value_is_a_configuration_error_naming_the_key_and_the_value()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            QueueOptions.FromConfig(ConfigurationFactory.ParseString("synchronous = sometimes")));

        Assert.Contains("bluesky-queue.synchronous", error.Message);
        Assert.Contains("sometimes", error.Message);
        Assert.Contains("full, normal or off", error.Message);
    }

    [Fact]
    public void A_bad_daily_offset_is_a_configuration_error_naming_the_key_and_the_value()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            QueueOptions.FromConfig(ConfigurationFactory.ParseString("daily-utc-offset = \"Beijing\"")));

        Assert.Contains("bluesky-queue.daily-utc-offset", error.Message);
        Assert.Contains("Beijing", error.Message);
    }

    private static Config DefaultSection() =>
        ConfigurationFactory.ParseString(QueueHostingExtensions.DefaultHocon).GetConfig("bluesky-queue");
}
