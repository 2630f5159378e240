using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace FastPt.Sync;

/// <summary>Work to run once a grace period has passed (the <c>func</c> of an <c>rcu_head</c>). One instance
/// serves many callbacks: the per-callback state is the 64-bit argument, so queueing allocates nothing.</summary>
internal interface IRcuCallback
{
    /// <summary>Runs the deferred work for <paramref name="argument"/>.</summary>
    void Invoke(ulong argument);
}

/// <summary>What the domain reports to the layer above (Sync depends on nothing; the memory manager forwards
/// these to the EventSource).</summary>
internal interface IRcuObserver
{
    /// <summary>A grace period ended and <paramref name="callbacks"/> callbacks became safe and ran in this pass;
    /// <paramref name="gracePeriods"/> is the domain's running count.</summary>
    void GracePeriodEnded(long gracePeriods, int callbacks);

    /// <summary>A reader stopped holding up grace periods without leaving its section.</summary>
    void ReaderAbandoned(int threadId, int nesting, RcuAbandonment reason);
}

/// <summary>An epoch-based RCU domain (<c>rcu_read_lock</c>, <c>call_rcu</c>, <c>synchronize_rcu</c>,
/// <c>rcu_barrier</c>).</summary>
/// <remarks>
/// <para>Readers are <see cref="RcuReader"/>s registered with the domain. A reader entering its outermost
/// section announces the global epoch it read; leaving, it announces 0. A grace period for everything retired
/// before the epoch moved to <c>q</c> has ended once every reader is quiescent or announced at least <c>q</c>.</para>
/// <para>The proof at the fences, in one place (each fence below points back here). The updater unlinks
/// (plain stores), then increments the epoch with a locked instruction (full fence F1), then reads the
/// announcements. A reader exchanges its announcement (locked: full fence F2), then reads the epoch again, then
/// follows pointers. Locked instructions are totally ordered. If F2 precedes F1, the updater's scan, after F1,
/// sees the announcement and waits. If F1 precedes F2, every load the reader makes after F2 sees the unlink,
/// because F1 drained the updater's stores first. A plain store would break this: it may sit in the store buffer
/// while the scan reads 0 and the reader loads the old pointer (the race Garnet's LightEpoch fixed by announcing
/// with a CAS).</para>
/// <para>Callbacks are queued with the epoch they become safe at. They run in bounded batches
/// (<see cref="CallbackBatchLimit"/> per pass) from <see cref="Poll"/>, which <see cref="CallRcu"/>,
/// <see cref="Synchronize"/> and the memory manager's gather call; <see cref="Barrier"/> drains them all.</para>
/// <para>A reader whose thread exits inside a section, or that is disposed inside one, is detected, reported to
/// the <see cref="IRcuObserver"/> and counted in <see cref="AbandonedReaders"/>; grace periods stop waiting for
/// it instead of hanging forever.</para>
/// </remarks>
internal sealed partial class RcuDomain : IDisposable
{
    /// <summary>Default <see cref="CallbackBatchLimit"/>.</summary>
    public const int DefaultCallbackBatchLimit = 256;

    private readonly IRcuObserver? _observer;

    // Read by every reader on every outermost entry, written only when a grace period starts: alone on a line.
    private PaddedLong _epoch;

    // Highest epoch q such that all callbacks safe at q or before may run (monotonic).
    private long _completed;
    private long _gracePeriods;
    private long _abandonedReaders;
    private int _disposed;

    /// <summary>Creates a domain. <paramref name="callbackBatchLimit"/> bounds the callbacks one pass runs
    /// (Linux's <c>blimit</c>).</summary>
    public RcuDomain(IRcuObserver? observer = null, int callbackBatchLimit = DefaultCallbackBatchLimit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(callbackBatchLimit, 1);
        _observer = observer;
        CallbackBatchLimit = callbackBatchLimit;
        _epoch.Value = 1;
        _batch = new Pending[callbackBatchLimit];
        _threadReader = new ThreadLocal<RcuReader>(() => Register(implicitForThread: true));
    }

    /// <summary>Most callbacks one pass of <see cref="Poll"/> runs.</summary>
    public int CallbackBatchLimit { get; }

    /// <summary>Grace periods completed: each <see cref="Synchronize"/>, and each <see cref="Poll"/> that found
    /// the safe epoch advanced.</summary>
    public long GracePeriods => Volatile.Read(ref _gracePeriods);

    /// <summary>Readers given up inside a section (thread exited, or disposed inside a section).</summary>
    public long AbandonedReaders => Volatile.Read(ref _abandonedReaders);

    /// <summary>The current epoch (diagnostics and tests).</summary>
    internal long Epoch => Volatile.Read(ref _epoch.Value);

    /// <summary>Announces the current epoch for <paramref name="reader"/>'s outermost section.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Announce(RcuReader reader, ref long slot)
    {
        reader.CheckUsable();
        long e = Volatile.Read(ref _epoch.Value);
        // F2 of the class proof: a locked exchange, so the announcement is globally visible before any load of
        // the section (never a plain store: store-buffer race).
        Interlocked.Exchange(ref slot, e);
        // Progress, not safety: if a grace period started meanwhile, announce the newer epoch so this section
        // does not hold up the callbacks of that grace period.
        if (Volatile.Read(ref _epoch.Value) != e) AnnounceAgain(ref slot);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AnnounceAgain(ref long slot)
    {
        while (true)
        {
            long e = Volatile.Read(ref _epoch.Value);
            Interlocked.Exchange(ref slot, e); // F2 again (class proof)
            if (Volatile.Read(ref _epoch.Value) == e) return;
        }
    }

    /// <summary>Waits until every reader that was inside a section when this call started has left it
    /// (<c>synchronize_rcu</c>), then runs one batch of the callbacks that became safe. Throws if the calling
    /// thread is itself inside a section of this domain (it would wait for itself forever).</summary>
    public void Synchronize()
    {
        ThrowIfDisposed();
        // F1 of the class proof: the caller's unlink stores are visible before any announcement is read.
        long target = Interlocked.Increment(ref _epoch.Value);
        WaitForReaders(target);
        AdvanceCompleted(target);
        Interlocked.Increment(ref _gracePeriods);
        Poll();
    }

    /// <summary>Starts a grace period if callbacks wait for one, and runs at most <see cref="CallbackBatchLimit"/>
    /// callbacks that are already safe. Never waits, so it may be called inside a read-side section. Returns the
    /// number of callbacks run (0 also when another thread is polling).</summary>
    public int Poll()
    {
        if (Interlocked.CompareExchange(ref _polling, 1, 0) != 0) return 0;
        try
        {
            long newest = NewestSafeAt();
            if (newest == 0) return 0;
            long epoch = Volatile.Read(ref _epoch.Value);
            // F1 of the class proof, when the newest callback's epoch has not started yet.
            if (epoch < newest) epoch = Interlocked.Increment(ref _epoch.Value);
            if (AdvanceCompleted(SafeEpoch(epoch))) Interlocked.Increment(ref _gracePeriods);
            return RunBatch(Volatile.Read(ref _completed));
        }
        finally
        {
            Volatile.Write(ref _polling, 0);
        }
    }

    /// <summary>Waits for grace periods until every callback queued before this call, and every callback those
    /// queued, has run (<c>rcu_barrier</c>).</summary>
    public void Barrier()
    {
        while (PendingCallbacks > 0)
        {
            long target = Interlocked.Increment(ref _epoch.Value); // F1 (class proof)
            WaitForReaders(target);
            AdvanceCompleted(target);
            Interlocked.Increment(ref _gracePeriods);
            DrainReady();
        }
    }

    /// <summary>Runs batches until no safe callback is left (another thread may be polling: wait for it).</summary>
    private void DrainReady()
    {
        var spin = new SpinWait();
        while (true)
        {
            if (Interlocked.CompareExchange(ref _polling, 1, 0) != 0)
            {
                spin.SpinOnce(sleep1Threshold: -1);
                continue;
            }
            int ran;
            try
            {
                ran = RunBatch(Volatile.Read(ref _completed));
            }
            finally
            {
                Volatile.Write(ref _polling, 0);
            }
            if (ran < CallbackBatchLimit) return;
        }
    }

    /// <summary>Moves the completed epoch forward to <paramref name="safe"/>; true when it moved.</summary>
    private bool AdvanceCompleted(long safe)
    {
        long done = Volatile.Read(ref _completed);
        while (safe > done)
        {
            long seen = Interlocked.CompareExchange(ref _completed, safe, done);
            if (seen == done) return true;
            done = seen;
        }
        return false;
    }

    private void ThrowIfDisposed()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
    }

    /// <summary>Runs every pending callback (<see cref="Barrier"/>) and unregisters the per-thread readers.
    /// Readers held by CPU contexts stay usable for <see cref="RcuReader.Dispose"/> only.</summary>
    public void Dispose()
    {
        if (Volatile.Read(ref _disposed) != 0) return;
        Barrier();
        Volatile.Write(ref _disposed, 1);
        _threadReader.Dispose();
        if (ReferenceEquals(t_lastDomain, this))
        {
            t_lastDomain = null;
            t_lastReader = null;
        }
    }

    /// <summary>A 64-bit value alone on its cache line wherever the containing object lands.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct PaddedLong
    {
        [FieldOffset(56)] public long Value;
    }
}
