using Akka.Actor;
using Akka.Event;
using QueueActors.Storage;

namespace QueueActors;

/// <summary>
/// Owns the database for one <see cref="QueueManager"/> and runs on the dedicated db dispatcher,
/// because Microsoft.Data.Sqlite blocks. Writes are group-committed: every write that arrives while
/// a transaction is running joins the next one (at most <see cref="QueueOptions.MaxBatchSize"/>),
/// and each is answered only after that transaction has committed. One fsync then covers many
/// claims and reports, with the same durability and cross-process safety as one transaction each.
/// </summary>
internal sealed class QueueStore : ReceiveActor
{
    private readonly QueueOptions _options;
    private readonly List<Pending> _batch = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private BlueskyQueue? _queue;
    private bool _flushScheduled;

    public QueueStore(QueueOptions options)
    {
        _options = options;

        Receive<Flush>(_ => FlushBatch());
        Receive<GetStats>(m => Answer(q => q.Read(s => q.Stats(s, m.Handle))));
        Receive<GetDailyCount>(m => Answer(q => q.Read(s => q.GetDailyCount(s, m.Handle))));
        Receive<GetNextDue>(m => Answer(q => new NextDue(q.Read(s => q.NextDue(s, m.Handle)))));
        Receive<GetJob>(m => Answer(q => new JobInfo(q.Read(s => q.GetJob(s, m.JobId)))));
        Receive<Enqueue>(m =>
        {
            NewJob valid;
            try
            {
                // Validation reads the image file: done here, off the default dispatcher, before batching.
                valid = JobValidator.Validate(m.Job, _options.MaxImageBytes);
            }
            catch (ArgumentException e)
            {
                Sender.Tell(QueueErrorCodes.From(e));
                return;
            }
            // Hashing the image for an idempotency key reads the file: also done before the write lock.
            Add(new PreparedEnqueue(valid, BlueskyQueue.HashIfKeyed(valid)));
        });
        Receive<IQueueRequest>(Add);
    }

    /// <summary>The queue, opened on first use so a bad path is reported to each request instead of crashing the actor.</summary>
    private BlueskyQueue Queue => _queue ??= OpenQueue();

    private BlueskyQueue OpenQueue()
    {
        try
        {
            return new BlueskyQueue(_options.ToStorageSettings());
        }
        catch (ArgumentException e)
        {
            // A path the OS cannot name (e.g. with a NUL): a storage failure of every request, not a validation error of one.
            throw new QueueStorageException(_options.DbPath ?? "", $"invalid database path: {e.Message}", e);
        }
    }

    public static Props Props(QueueOptions options) =>
        Akka.Actor.Props.Create(() => new QueueStore(options)).WithDispatcher(options.DbDispatcher);

    protected override void PreStart()
    {
        try
        {
            Queue.InitDbAsync().GetAwaiter().GetResult(); // completes synchronously; this is the db thread
            _log.Info("Queue database {0} is open", Queue.DbPath);
        }
        catch (Exception e)
        {
            _log.Error(e, "Queue database {0} cannot be opened; every request will be answered with a storage error",
                _queue?.DbPath ?? _options.DbPath);
        }
    }

    protected override void PostStop()
    {
        foreach (var pending in _batch)
            pending.ReplyTo.Tell(new QueueError(QueueErrorCodes.Storage, "the queue service is stopping"));
        _batch.Clear();
        _queue?.Dispose();
    }

    private void Answer(Func<BlueskyQueue, object> read)
    {
        // Writes received before this read are committed and answered first: a sender reads its own writes, in order.
        FlushBatch();
        object reply;
        try
        {
            reply = read(Queue);
        }
        catch (Exception e)
        {
            reply = QueueErrorCodes.From(e);
        }
        Sender.Tell(reply);
    }

    private void Add(object request)
    {
        _batch.Add(new Pending(request, Sender));
        if (_batch.Count >= _options.MaxBatchSize)
        {
            FlushBatch();
        }
        else if (!_flushScheduled)
        {
            // Everything already in the mailbox is received before this Flush: that is the batch.
            _flushScheduled = true;
            Self.Tell(Flush.Instance);
        }
    }

    private void FlushBatch()
    {
        _flushScheduled = false;
        if (_batch.Count == 0) return;
        var batch = _batch.ToArray();
        _batch.Clear();
        try
        {
            // Fast path: the whole batch in one transaction. Refusals (unknown job, lost lease, bad
            // input) are decided before anything is written, so they are answered alone and the rest
            // stands. Anything else thrown mid-request (a failed statement, unreadable data) might leave
            // that request half done: then the transaction is rolled back, nothing having been answered,
            // and the batch runs again with each request under its own savepoint, so the failure is
            // undone alone. Only when SQLite itself ended the transaction (a full disk, an I/O error)
            // does the whole batch fail.
            if (!TryRun(batch, isolated: false)) TryRun(batch, isolated: true);
        }
        catch (Exception e)
        {
            _log.Error(e, "A batch of {0} writes failed and was rolled back", batch.Length);
            var error = new QueueError(QueueErrorCodes.Storage, e.Message);
            foreach (var pending in batch) pending.Reply = error;
        }
        foreach (var pending in batch) pending.ReplyTo.Tell(pending.Reply);
    }

    /// <summary>Runs the batch in one transaction; false when the fast path met an unexpected failure and rolled back.</summary>
    private bool TryRun(Pending[] batch, bool isolated)
    {
        try
        {
            Queue.Write(s => Run(s, batch, isolated));
            return true;
        }
        catch (RetryIsolated)
        {
            return false;
        }
    }

    private int Run(Session s, Pending[] batch, bool isolated)
    {
        foreach (var pending in batch)
        {
            if (isolated) s.Execute("SAVEPOINT request;");
            try
            {
                pending.Reply = Execute(s, pending.Request);
                if (isolated) s.Execute("RELEASE request;");
            }
            catch (Exception e) when (IsRefusal(e))
            {
                if (isolated) s.Execute("RELEASE request;");
                pending.Reply = QueueErrorCodes.From(e);
            }
            catch (Exception e) when (!isolated && s.InTransaction)
            {
                _log.Warning("A {0} failed unexpectedly ({1}); running its batch again with each request isolated",
                    pending.Request.GetType().Name, e.Message);
                throw new RetryIsolated();
            }
            catch (Exception e) when (isolated && s.InTransaction)
            {
                s.Execute("ROLLBACK TO request; RELEASE request;");
                pending.Reply = new QueueError(QueueErrorCodes.Storage, $"{e.GetType().Name}: {e.Message}");
                _log.Error(e, "A {0} failed and was undone alone", pending.Request.GetType().Name);
            }
        }
        return batch.Length;
    }

    // Only the queue's own refusals, which it decides before writing anything.
    private static bool IsRefusal(Exception e) =>
        e is ArgumentException or JobNotFoundException or InvalidJobStateException;

    private object Execute(Session s, object request)
    {
        var q = Queue;
        switch (request)
        {
            case ClaimNext m:
                return new JobClaimed(q.ClaimNext(s, m.Handle, m.RequestId));
            case MarkPosted m:
                q.MarkPosted(s, m.JobId, m.Uri, m.Url, m.ClaimToken);
                return new JobUpdated(m.JobId, JobStatus.Posted);
            case MarkFailed m:
                q.MarkFailed(s, m.JobId, m.Error, m.ClaimToken);
                return new JobUpdated(m.JobId, JobStatus.Failed);
            case MarkRetry m:
                return new JobUpdated(m.JobId, q.MarkRetry(s, m.JobId, m.Error, m.NotBefore, m.ClaimToken));
            case ExtendLease m:
                q.ExtendLease(s, m.JobId, m.ClaimToken);
                return new JobUpdated(m.JobId, JobStatus.InProgress);
            case PreparedEnqueue m:
                var result = q.InsertJob(s, m.Job, m.IdempotencyHash);
                return new Enqueued(result.Id, result.Created);
            case IncrementDaily m:
                return q.IncrementDaily(s, m.Handle, m.IsReply);
            case ReclaimStale m:
                var reclaimed = q.ReclaimStale(s, m.Timeout ?? _options.StaleTimeout);
                return new StaleReclaimed(reclaimed.Requeued, reclaimed.Failed);
            default:
                return new QueueError(QueueErrorCodes.Validation, $"unsupported request {request.GetType().Name}");
        }
    }

    private sealed class Pending(object request, IActorRef replyTo)
    {
        public object Request { get; } = request;
        public IActorRef ReplyTo { get; } = replyTo;
        public object Reply { get; set; } = new QueueError(QueueErrorCodes.Storage, "not executed");
    }

    /// <summary>An enqueue validated, and hashed if keyed, before it joins a batch.</summary>
    // Not a protocol message: it never leaves this actor, so it has no serializer binding.
    private sealed record PreparedEnqueue(NewJob Job, string? IdempotencyHash);

    /// <summary>Aborts the fast path's transaction so the batch runs again isolated.</summary>
    private sealed class RetryIsolated : Exception;

    private sealed class Flush
    {
        public static readonly Flush Instance = new();
    }
}
