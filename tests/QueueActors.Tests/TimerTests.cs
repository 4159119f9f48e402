using QueueActors.Storage;
using Xunit;
using Xunit.Abstractions;

namespace QueueActors.Tests;

/// <summary>The reclaim timer: stale leases come back with no explicit <see cref="ReclaimStale"/> message.</summary>
public sealed class TimerTests(ITestOutputHelper output) : QueueTestKit(output)
{
    private static readonly TimeSpan ReclaimWithin = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_timer_requeues_a_stale_job_with_one_attempt_counted()
    {
        var manager = StartManager(o =>
        {
            o.ReclaimInterval = TimeSpan.FromMilliseconds(200);
            o.StaleTimeout = TimeSpan.FromSeconds(300);
        });
        var id = await Enqueue(manager, JobFor(Alice));
        var claimed = await Ask<JobClaimed>(manager, new ClaimNext(Alice));
        Assert.Equal(id, claimed.Job?.Id);

        Clock.Advance(TimeSpan.FromSeconds(301));

        await AwaitAssertAsync(async () =>
        {
            var job = await GetJob(manager, id);
            Assert.Equal(JobStatus.Queued, job.Status);
            Assert.Equal(1, job.Attempts);
            Assert.Null(job.ClaimToken);
            Assert.Contains("lease expired", job.LastError);
        }, ReclaimWithin, TimeSpan.FromMilliseconds(50));
        Assert.Equal(id, (await Ask<JobClaimed>(manager, new ClaimNext(Alice))).Job?.Id);
    }

    [Fact]
    public async Task The_timer_leaves_a_lease_younger_than_the_stale_timeout_alone()
    {
        var manager = StartManager(o =>
        {
            o.ReclaimInterval = TimeSpan.FromMilliseconds(200);
            o.StaleTimeout = TimeSpan.FromSeconds(300);
        });
        var old = await Enqueue(manager, JobFor(Alice));
        await Ask<JobClaimed>(manager, new ClaimNext(Alice));
        Clock.Advance(TimeSpan.FromSeconds(200));
        var young = await Enqueue(manager, JobFor(Alice));
        Assert.Equal(young, (await Ask<JobClaimed>(manager, new ClaimNext(Alice))).Job?.Id);

        Clock.Advance(TimeSpan.FromSeconds(101));

        await AwaitAssertAsync(async () => Assert.Equal(JobStatus.Queued, (await GetJob(manager, old)).Status),
            ReclaimWithin, TimeSpan.FromMilliseconds(50));
        // The sweep that requeued the old lease saw the young one at the same clock time and kept it.
        var kept = await GetJob(manager, young);
        Assert.Equal(JobStatus.InProgress, kept.Status);
        Assert.Equal(0, kept.Attempts);
    }

    [Fact]
    public async Task The_timer_fails_a_stale_job_whose_attempts_ran_out()
    {
        var manager = StartManager(o =>
        {
            o.ReclaimInterval = TimeSpan.FromMilliseconds(200);
            o.StaleTimeout = TimeSpan.FromSeconds(300);
        });
        var id = await Enqueue(manager, JobFor(Alice) with { MaxAttempts = 1 });
        await Ask<JobClaimed>(manager, new ClaimNext(Alice));

        Clock.Advance(TimeSpan.FromSeconds(301));

        await AwaitAssertAsync(async () =>
        {
            var job = await GetJob(manager, id);
            Assert.Equal(JobStatus.Failed, job.Status);
            Assert.Equal(1, job.Attempts);
        }, ReclaimWithin, TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public async Task The_timer_keeps_reclaiming_after_a_sweep_that_found_nothing()
    {
        var manager = StartManager(o =>
        {
            o.ReclaimInterval = TimeSpan.FromMilliseconds(100);
            o.StaleTimeout = TimeSpan.FromSeconds(300);
        });
        var first = await Enqueue(manager, JobFor(Alice));
        await Ask<JobClaimed>(manager, new ClaimNext(Alice));
        Clock.Advance(TimeSpan.FromSeconds(301));
        await AwaitAssertAsync(async () => Assert.Equal(JobStatus.Queued, (await GetJob(manager, first)).Status),
            ReclaimWithin, TimeSpan.FromMilliseconds(50));

        var second = await Enqueue(manager, JobFor(Bob));
        Assert.Equal(second, (await Ask<JobClaimed>(manager, new ClaimNext(Bob))).Job?.Id);
        Clock.Advance(TimeSpan.FromSeconds(301));

        await AwaitAssertAsync(async () => Assert.Equal(JobStatus.Queued, (await GetJob(manager, second)).Status),
            ReclaimWithin, TimeSpan.FromMilliseconds(50));
    }
}
