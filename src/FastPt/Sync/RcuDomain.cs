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

/// <summary>An epoch-based RCU domain. Readers announce the epoch they entered in; a grace period has ended for
/// everything retired before epoch <c>q</c> once every reader inside a read-side section announced an epoch of at
/// least <c>q</c>. The announce is a locked exchange followed by a re-read of the global epoch (the store-buffer
/// race Garnet's LightEpoch had to fix: a plain store could sit in the store buffer while a reclaimer scans).</summary>
internal sealed class RcuDomain : IDisposable
{
    private const int PollThreshold = 256;

    [ThreadStatic] private static RcuDomain? t_lastDomain;
    [ThreadStatic] private static ReaderSlot? t_lastSlot;

    private readonly object _slotLock = new();
    private readonly ThreadLocal<ReaderSlot> _threadSlot;
    private ReaderSlot[] _slots = new ReaderSlot[8];
    private int _slotCount;

    private readonly object _queueLock = new();
    private Pending[] _queue = new Pending[64];
    private int _queueHead;
    private int _queueCount;
    private long _epoch = 1;
    private long _gracePeriods;
    private long _callbacksInvoked;
    private int _pollingThreads;

    public RcuDomain()
    {
        _threadSlot = new ThreadLocal<ReaderSlot>(RegisterCurrentThread);
    }

    /// <summary>Grace periods completed (each <see cref="Synchronize"/> or productive poll counts one).</summary>
    public long GracePeriods => Volatile.Read(ref _gracePeriods);

    /// <summary>Callbacks queued and not yet run.</summary>
    public int PendingCallbacks
    {
        get { lock (_queueLock) return _queueCount; }
    }

    /// <summary>Callbacks run so far.</summary>
    public long CallbacksInvoked => Volatile.Read(ref _callbacksInvoked);

    /// <summary>Raised (on the thread that completes it) after each grace period, with the callbacks it ran.</summary>
    public event Action<int>? GracePeriodCompleted;

    /// <summary>True when the calling thread is inside a read-side section of this domain.</summary>
    public bool InReadSection => CurrentSlot().Nesting > 0;

    /// <summary>Enters a read-side section (<c>rcu_read_lock</c>); sections nest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ReadLock()
    {
        ReaderSlot slot = CurrentSlot();
        if (slot.Nesting++ == 0) Announce(slot);
    }

    /// <summary>Leaves a read-side section (<c>rcu_read_unlock</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ReadUnlock()
    {
        ReaderSlot slot = CurrentSlot();
        if (--slot.Nesting == 0) Volatile.Write(ref slot.Epoch, 0);
    }

    /// <summary>A read-side section for a <c>using</c> statement.</summary>
    public ReadSection Read()
    {
        ReadLock();
        return new ReadSection(this);
    }

    private void Announce(ReaderSlot slot)
    {
        long e = Volatile.Read(ref _epoch);
        while (true)
        {
            Interlocked.Exchange(ref slot.Epoch, e);
            long again = Volatile.Read(ref _epoch);
            if (again == e) return;
            e = again;
        }
    }

    /// <summary>Waits until every reader that might hold a reference taken before this call has left its
    /// section (<c>synchronize_rcu</c>), then runs the callbacks that became safe.</summary>
    public void Synchronize()
    {
        if (CurrentSlot().Nesting > 0)
            throw new InvalidOperationException("Synchronize called inside an RCU read-side section would never return.");
        long target = Interlocked.Increment(ref _epoch);
        WaitForReaders(target);
        Interlocked.Increment(ref _gracePeriods);
        RunReady(target);
    }

    /// <summary>Queues <paramref name="callback"/> to run with <paramref name="argument"/> after a grace period
    /// (<c>call_rcu</c>). Allocation-free once the queue has grown to its working size.</summary>
    public void CallRcu(IRcuCallback callback, ulong argument)
    {
        bool poll;
        lock (_queueLock)
        {
            if (_queueCount == _queue.Length) GrowQueue();
            int index = (_queueHead + _queueCount) % _queue.Length;
            // Safe once every active reader announced an epoch beyond the current one.
            _queue[index] = new Pending(callback, argument, Volatile.Read(ref _epoch) + 1);
            _queueCount++;
            poll = _queueCount >= PollThreshold;
        }
        if (poll) Poll();
    }

    /// <summary>Starts a grace period without waiting and runs every callback that is already safe.
    /// Returns the number of callbacks run. Safe to call from inside a read-side section (it never waits).</summary>
    public int Poll()
    {
        if (Interlocked.Exchange(ref _pollingThreads, 1) != 0) return 0;
        try
        {
            Interlocked.Increment(ref _epoch);
            long safe = SafeEpoch();
            int ran = RunReady(safe);
            if (ran > 0) Interlocked.Increment(ref _gracePeriods);
            return ran;
        }
        finally
        {
            Volatile.Write(ref _pollingThreads, 0);
        }
    }

    /// <summary>Waits for grace periods until every callback queued before this call has run (<c>rcu_barrier</c>).</summary>
    public void Barrier()
    {
        while (PendingCallbacks > 0) Synchronize();
    }

    private long SafeEpoch()
    {
        long safe = Volatile.Read(ref _epoch);
        ReaderSlot[] slots;
        int count;
        lock (_slotLock) { slots = _slots; count = _slotCount; }
        for (int i = 0; i < count; i++)
        {
            long e = Volatile.Read(ref slots[i].Epoch);
            if (e != 0 && e < safe) safe = e;
        }
        return safe;
    }

    private void WaitForReaders(long target)
    {
        ReaderSlot[] slots;
        int count;
        lock (_slotLock) { slots = _slots; count = _slotCount; }
        for (int i = 0; i < count; i++)
        {
            ReaderSlot slot = slots[i];
            var spin = new SpinWait();
            while (true)
            {
                long e = Volatile.Read(ref slot.Epoch);
                if (e == 0 || e >= target) break;
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }
    }

    private int RunReady(long safeEpoch)
    {
        int ran = 0;
        while (true)
        {
            Pending next;
            lock (_queueLock)
            {
                if (_queueCount == 0 || _queue[_queueHead].SafeAt > safeEpoch) break;
                next = _queue[_queueHead];
                _queue[_queueHead] = default;
                _queueHead = (_queueHead + 1) % _queue.Length;
                _queueCount--;
            }
            next.Callback.Invoke(next.Argument);
            ran++;
        }
        if (ran > 0)
        {
            Interlocked.Add(ref _callbacksInvoked, ran);
            GracePeriodCompleted?.Invoke(ran);
        }
        return ran;
    }

    private void GrowQueue()
    {
        var bigger = new Pending[_queue.Length * 2];
        for (int i = 0; i < _queueCount; i++) bigger[i] = _queue[(_queueHead + i) % _queue.Length];
        _queue = bigger;
        _queueHead = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ReaderSlot CurrentSlot()
    {
        if (ReferenceEquals(t_lastDomain, this)) return t_lastSlot!;
        return CurrentSlotSlow();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ReaderSlot CurrentSlotSlow()
    {
        ReaderSlot slot = _threadSlot.Value!;
        t_lastDomain = this;
        t_lastSlot = slot;
        return slot;
    }

    private ReaderSlot RegisterCurrentThread()
    {
        lock (_slotLock)
        {
            // Reuse the slot of a thread that has exited: it is quiescent forever.
            for (int i = 0; i < _slotCount; i++)
            {
                ReaderSlot old = _slots[i];
                if (!old.Owner.TryGetTarget(out Thread? t) || !t.IsAlive)
                {
                    old.Owner = new WeakReference<Thread>(Thread.CurrentThread);
                    old.Nesting = 0;
                    Volatile.Write(ref old.Epoch, 0);
                    return old;
                }
            }
            var slot = new ReaderSlot { Owner = new WeakReference<Thread>(Thread.CurrentThread) };
            if (_slotCount == _slots.Length)
            {
                var bigger = new ReaderSlot[_slots.Length * 2];
                Array.Copy(_slots, bigger, _slotCount);
                _slots = bigger;
            }
            _slots[_slotCount] = slot;
            Volatile.Write(ref _slotCount, _slotCount + 1);
            return slot;
        }
    }

    public void Dispose()
    {
        Barrier();
        _threadSlot.Dispose();
        if (ReferenceEquals(t_lastDomain, this))
        {
            t_lastDomain = null;
            t_lastSlot = null;
        }
    }

    /// <summary>A registered reader. The announced epoch sits alone on its cache lines so that readers on
    /// different cores never share one.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private sealed class ReaderSlot
    {
#pragma warning disable CS0169, IDE0051 // padding
        private readonly long _pad0, _pad1, _pad2, _pad3, _pad4, _pad5, _pad6, _pad7;
#pragma warning restore CS0169, IDE0051
        public long Epoch;
        public int Nesting;
        public WeakReference<Thread> Owner = null!;
#pragma warning disable CS0169, IDE0051 // padding
        private readonly long _pad8, _pad9, _pad10, _pad11, _pad12, _pad13, _pad14;
#pragma warning restore CS0169, IDE0051
    }

    private readonly record struct Pending(IRcuCallback Callback, ulong Argument, long SafeAt);

    /// <summary>A read-side section; dispose to leave it.</summary>
    public readonly ref struct ReadSection
    {
        private readonly RcuDomain _domain;

        internal ReadSection(RcuDomain domain) => _domain = domain;

        /// <summary>Leaves the section.</summary>
        public void Dispose() => _domain.ReadUnlock();
    }
}
