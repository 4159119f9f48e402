using Xunit;

namespace QueueActors.Storage.Tests;

/// <summary>The card's third suite (边界测试): future jobs, exhausted attempts, the Beijing day boundary, the empty queue.</summary>
public sealed class QueueEdgeTests : IDisposable
{
    private readonly TempDb _db = new();
    private readonly ManualClock _clock = new(StorageTestKit.T0);
    private readonly BlueskyQueue _queue;

    public QueueEdgeTests()
    {
        _queue = _db.Open(_clock);
        _queue.InitDbAsync().GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _queue.Dispose();
        _db.Dispose();
    }

    // ---- not_before 设为未来时间，claim_next 不返回 ----

    [Fact]
    public async Task NotBeforeAtTheEndOfTime_IsStoredAndNeverDue_AndARetryCanParkAJobThere()
    {
        // SQLite rounds 23:59:59.999999 of 9999-12-31 past its calendar: the schema must still accept it.
        var id = await _queue.EnqueueAsync(StorageTestKit.Post("someday", notBefore: DateTimeOffset.MaxValue));
        Assert.Null(await _queue.ClaimNextAsync());
        Assert.Equal(DbTime.Truncate(DateTimeOffset.MaxValue), (await StorageTestKit.GetAsync(_queue, id)).NotBefore);

        var other = await _queue.EnqueueAsync(StorageTestKit.Post("now"));
        var claimed = await _queue.ClaimNextAsync();
        await _queue.MarkRetryAsync(claimed!.Id, "parked", DateTimeOffset.MaxValue, claimed.ClaimToken);
        Assert.Equal(JobStatus.Queued, (await StorageTestKit.GetAsync(_queue, other)).Status);
        Assert.Null(await _queue.ClaimNextAsync());
    }

    [Fact]
    public async Task NotBeforeInFuture_IsNotClaimed_UntilClockReachesIt()
    {
        var due = StorageTestKit.T0.AddHours(1);
        var id = await _queue.EnqueueAsync(StorageTestKit.Post(notBefore: due));

        Assert.Null(await _queue.ClaimNextAsync());
        Assert.Null(await _queue.ClaimNextAsync(StorageTestKit.Alice));
        _clock.Set(due.AddSeconds(-1));
        Assert.Null(await _queue.ClaimNextAsync());
        Assert.Equal(JobStatus.Queued, (await StorageTestKit.GetAsync(_queue, id)).Status);

        _clock.Set(due);
        Assert.Equal(id, (await StorageTestKit.ClaimAsync(_queue)).Id);
    }

    [Fact]
    public async Task NotBeforeInFuture_GivenWithAnOffset_IsComparedAsAnInstant()
    {
        // 09:30 in Beijing is 01:30Z: already past at T0 (09:00Z), although "09:30" > "09:00" as text.
        var past = await _queue.EnqueueAsync(StorageTestKit.Post("past", notBefore:
            new DateTimeOffset(2026, 12, 3, 9, 30, 0, TimeSpan.FromHours(8))));
        // 03:30 at UTC-7 is 10:30Z: still in the future, although "03:30" < "09:00" as text.
        var future = await _queue.EnqueueAsync(StorageTestKit.Post("future", notBefore:
            new DateTimeOffset(2026, 12, 3, 3, 30, 0, TimeSpan.FromHours(-7))));

        Assert.Equal(past, (await StorageTestKit.ClaimAsync(_queue)).Id);
        Assert.Null(await _queue.ClaimNextAsync());
        _clock.Set(new DateTimeOffset(2026, 12, 3, 10, 30, 0, TimeSpan.Zero));
        Assert.Equal(future, (await StorageTestKit.ClaimAsync(_queue)).Id);
    }

    // ---- 超出发送次数限制的 job 被标记为 failed ----

    [Fact]
    public async Task MarkRetry_ExceedingMaxAttempts_MarksJobFailed()
    {
        var id = await _queue.EnqueueAsync(StorageTestKit.Post(maxAttempts: 3));

        for (int attempt = 1; attempt <= 2; attempt++)
        {
            await StorageTestKit.ClaimAsync(_queue);
            await _queue.MarkRetryAsync(id, $"try {attempt} failed", _clock.UtcNow);
            var job = await StorageTestKit.GetAsync(_queue, id);
            Assert.Equal(JobStatus.Queued, job.Status);
            Assert.Equal(attempt, job.Attempts);
        }

        await StorageTestKit.ClaimAsync(_queue);
        await _queue.MarkRetryAsync(id, "try 3 failed", _clock.UtcNow.AddMinutes(5));

        var failed = await StorageTestKit.GetAsync(_queue, id);
        Assert.Equal(JobStatus.Failed, failed.Status);
        Assert.Equal(3, failed.Attempts);
        Assert.Equal("try 3 failed", failed.LastError);
        Assert.Null(failed.ClaimToken);
        _clock.Advance(TimeSpan.FromDays(1));
        Assert.Null(await _queue.ClaimNextAsync());
        Assert.Equal(new QueueStats(0, 0, 0, 1), await _queue.StatsAsync());
    }

    [Fact]
    public async Task MarkRetry_WithMaxAttemptsOne_FailsOnFirstRetry()
    {
        var id = await _queue.EnqueueAsync(StorageTestKit.Post(maxAttempts: 1));
        await StorageTestKit.ClaimAsync(_queue);

        await _queue.MarkRetryAsync(id, "once only", _clock.UtcNow);

        var job = await StorageTestKit.GetAsync(_queue, id);
        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Equal(1, job.Attempts);
        Assert.Null(await _queue.ClaimNextAsync());
    }

    [Fact]
    public async Task StaleReclaim_ExhaustingAttempts_MarksJobFailed_AndDoesNotReturnIt()
    {
        var id = await _queue.EnqueueAsync(StorageTestKit.Post(maxAttempts: 2));

        await StorageTestKit.ClaimAsync(_queue);
        _clock.Advance(TimeSpan.FromSeconds(301));
        Assert.Equal([id], await _queue.ClaimStaleJobsAsync());
        var requeued = await StorageTestKit.GetAsync(_queue, id);
        Assert.Equal(JobStatus.Queued, requeued.Status);
        Assert.Equal(1, requeued.Attempts);

        await StorageTestKit.ClaimAsync(_queue);
        _clock.Advance(TimeSpan.FromSeconds(301));
        Assert.Empty(await _queue.ClaimStaleJobsAsync());

        var failed = await StorageTestKit.GetAsync(_queue, id);
        Assert.Equal(JobStatus.Failed, failed.Status);
        Assert.Equal(2, failed.Attempts);
        Assert.Contains("lease expired", failed.LastError);
        Assert.Null(failed.ClaimToken);
        Assert.Null(await _queue.ClaimNextAsync());
    }

    [Fact]
    public async Task ReclaimStale_NamesExhaustedJobsSeparately()
    {
        var once = await _queue.EnqueueAsync(StorageTestKit.Post("once", maxAttempts: 1));
        var twice = await _queue.EnqueueAsync(StorageTestKit.Post("twice", maxAttempts: 2));
        await StorageTestKit.ClaimAsync(_queue);
        await StorageTestKit.ClaimAsync(_queue);
        _clock.Advance(TimeSpan.FromMinutes(10));

        var result = _queue.ReclaimStale();

        Assert.Equal([twice], result.Requeued);
        Assert.Equal([once], result.Failed);
        Assert.Equal(JobStatus.Failed, (await StorageTestKit.GetAsync(_queue, once)).Status);
        Assert.Equal(JobStatus.Queued, (await StorageTestKit.GetAsync(_queue, twice)).Status);
    }

    // ---- 日期跨天后 daily_posts 正确重置计数 ----

    [Fact]
    public async Task DailyCount_ResetsAcrossBeijingDayBoundary()
    {
        var lastSecond = new DateTimeOffset(2026, 12, 3, 15, 59, 59, TimeSpan.Zero); // 23:59:59 in Beijing
        var midnight = new DateTimeOffset(2026, 12, 3, 16, 0, 0, TimeSpan.Zero);     // 00:00:00 on 12-04 in Beijing
        _clock.Set(lastSecond);
        await _queue.IncrementDailyAsync(StorageTestKit.Alice);
        await _queue.IncrementDailyAsync(StorageTestKit.Alice);
        await _queue.IncrementDailyAsync(StorageTestKit.Alice, isReply: true);
        Assert.Equal(new DailyCount(2, 1), await _queue.GetDailyCountAsync(StorageTestKit.Alice));

        _clock.Set(midnight);
        Assert.Equal(new DailyCount(0, 0), await _queue.GetDailyCountAsync(StorageTestKit.Alice));
        await _queue.IncrementDailyAsync(StorageTestKit.Alice, isReply: true);
        Assert.Equal(new DailyCount(0, 1), await _queue.GetDailyCountAsync(StorageTestKit.Alice));

        // The previous day's counter is kept under its own date.
        _clock.Set(lastSecond);
        Assert.Equal(new DailyCount(2, 1), await _queue.GetDailyCountAsync(StorageTestKit.Alice));
        Assert.Equal(["2026-12-03", "2026-12-04"], DailyDates());
    }

    [Fact]
    public async Task DailyCount_UsesTheConfiguredZone()
    {
        using var utcQueue = _db.Open(new QueueSettings { TimeProvider = _clock, DailyTimeZone = TimeZoneInfo.Utc });
        _clock.Set(new DateTimeOffset(2026, 12, 3, 16, 0, 0, TimeSpan.Zero)); // 12-03 in UTC, 12-04 in Beijing

        await utcQueue.IncrementDailyAsync(StorageTestKit.Alice);

        Assert.Equal(["2026-12-03"], DailyDates());
        Assert.Equal(new DailyCount(0, 0), await _queue.GetDailyCountAsync(StorageTestKit.Alice));
        Assert.Equal(new DailyCount(1, 0), await utcQueue.GetDailyCountAsync(StorageTestKit.Alice));
    }

    private List<string> DailyDates()
    {
        using var connection = _db.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT date FROM daily_posts ORDER BY date;";
        using var reader = command.ExecuteReader();
        var dates = new List<string>();
        while (reader.Read()) dates.Add(reader.GetString(0));
        return dates;
    }

    // ---- 空队列调用 claim_next 返回 None ----

    [Fact]
    public async Task EmptyQueue_ClaimNextReturnsNull()
    {
        Assert.Null(await _queue.ClaimNextAsync());
        Assert.Null(await _queue.ClaimNextAsync(StorageTestKit.Alice));
        Assert.Equal(new QueueStats(0, 0, 0, 0), await _queue.StatsAsync());
        Assert.Empty(await _queue.ClaimStaleJobsAsync());
    }

    [Fact]
    public async Task DrainedQueue_ClaimNextReturnsNull()
    {
        await _queue.EnqueueAsync(StorageTestKit.Post());
        await StorageTestKit.ClaimAsync(_queue);

        Assert.Null(await _queue.ClaimNextAsync());
    }

    // ---- Stale timeout ----

    [Fact]
    public async Task ClaimStaleJobs_DefaultTimeoutIs300Seconds()
    {
        Assert.Equal(TimeSpan.FromSeconds(300), BlueskyQueue.DefaultStaleTimeout);
        var id = await _queue.EnqueueAsync(StorageTestKit.Post());
        await StorageTestKit.ClaimAsync(_queue);

        _clock.Advance(TimeSpan.FromSeconds(299));
        Assert.Empty(await _queue.ClaimStaleJobsAsync());
        Assert.Equal(JobStatus.InProgress, (await StorageTestKit.GetAsync(_queue, id)).Status);

        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal([id], await _queue.ClaimStaleJobsAsync());
        Assert.Equal(JobStatus.Queued, (await StorageTestKit.GetAsync(_queue, id)).Status);
    }

    [Fact]
    public async Task ClaimStaleJobs_HonoursAGivenTimeout()
    {
        var id = await _queue.EnqueueAsync(StorageTestKit.Post());
        await StorageTestKit.ClaimAsync(_queue);
        _clock.Advance(TimeSpan.FromSeconds(31));

        Assert.Empty(await _queue.ClaimStaleJobsAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal([id], await _queue.ClaimStaleJobsAsync(TimeSpan.FromSeconds(30)));
    }
}
