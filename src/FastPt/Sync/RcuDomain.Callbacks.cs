using System;
using System.Threading;

namespace FastPt.Sync;

// The callback queue: call_rcu and the bounded batches that run what became safe.
internal sealed partial class RcuDomain
{
    /// <summary>Every this many queued callbacks, <see cref="CallRcu"/> polls (the kernel's softirq would run).</summary>
    private const int PollEvery = 64;

    private RawSpinLock _queueLock;
    private Pending[] _queue = new Pending[256];
    private int _queueHead;
    private int _queueCount;
    private long _callbacksQueued;
    private long _callbacksInvoked;
    private long _batches;

    // Owned by the thread holding _polling: the batch taken off the queue, run outside the lock.
    private int _polling;
    private readonly Pending[] _batch;

    /// <summary>Callbacks queued and not yet run.</summary>
    public int PendingCallbacks => Volatile.Read(ref _queueCount);

    /// <summary>Callbacks queued so far.</summary>
    public long CallbacksQueued => Volatile.Read(ref _callbacksQueued);

    /// <summary>Callbacks run so far.</summary>
    public long CallbacksInvoked => Volatile.Read(ref _callbacksInvoked);

    /// <summary>Batches of callbacks run (passes that ran at least one).</summary>
    public long CallbackBatches => Volatile.Read(ref _batches);

    /// <summary>Queues <paramref name="callback"/> to run with <paramref name="argument"/> after a grace period
    /// (<c>call_rcu</c>). No managed allocation once the queue has grown to its working size. May be called from
    /// a callback (a re-deferral) and inside a read-side section.</summary>
    public void CallRcu(IRcuCallback callback, ulong argument)
    {
        ArgumentNullException.ThrowIfNull(callback);
        int count;
        // The acquire is an interlocked compare-exchange, a full fence: the caller's unlink stores are globally
        // visible before the epoch is read below. The callback's epoch rests on that (class proof: a reader that
        // announced SafeAt read the epoch after it moved past the value read here, hence after the unlink).
        _queueLock.Enter();
        try
        {
            if (_queueCount == _queue.Length) GrowQueue();
            int index = _queueHead + _queueCount;
            if (index >= _queue.Length) index -= _queue.Length;
            _queue[index] = new Pending(callback, argument, Volatile.Read(ref _epoch.Value) + 1);
            count = _queueCount + 1;
            Volatile.Write(ref _queueCount, count);
            _callbacksQueued++;
        }
        finally
        {
            _queueLock.Exit();
        }
        if (count % PollEvery == 0) Poll();
    }

    /// <summary>The epoch the newest queued callback waits for, 0 when none is queued.</summary>
    private long NewestSafeAt()
    {
        _queueLock.Enter();
        try
        {
            if (_queueCount == 0) return 0;
            int last = _queueHead + _queueCount - 1;
            if (last >= _queue.Length) last -= _queue.Length;
            return _queue[last].SafeAt;
        }
        finally
        {
            _queueLock.Exit();
        }
    }

    /// <summary>Takes at most <see cref="CallbackBatchLimit"/> callbacks safe at <paramref name="safeEpoch"/> off
    /// the queue and runs them, outside the lock (a callback may queue again). Caller holds <c>_polling</c>.</summary>
    private int RunBatch(long safeEpoch)
    {
        int taken = 0;
        _queueLock.Enter();
        try
        {
            // Callbacks are queued in epoch order, so the safe ones are a prefix of the ring.
            while (taken < _batch.Length && _queueCount > 0 && _queue[_queueHead].SafeAt <= safeEpoch)
            {
                _batch[taken++] = _queue[_queueHead];
                _queue[_queueHead] = default;
                if (++_queueHead == _queue.Length) _queueHead = 0;
                Volatile.Write(ref _queueCount, _queueCount - 1);
            }
        }
        finally
        {
            _queueLock.Exit();
        }
        if (taken == 0) return 0;
        int ran = 0;
        try
        {
            for (; ran < taken; ran++)
            {
                Pending p = _batch[ran];
                _batch[ran] = default;
                p.Callback.Invoke(p.Argument);
            }
        }
        finally
        {
            // A throwing callback loses only itself: the rest of the batch goes back to the queue's front.
            if (ran < taken) Requeue(ran + 1, taken);
            Interlocked.Add(ref _callbacksInvoked, ran);
            Interlocked.Increment(ref _batches);
        }
        _observer?.GracePeriodEnded(GracePeriods, ran);
        return ran;
    }

    private void Requeue(int from, int to)
    {
        _queueLock.Enter();
        try
        {
            for (int i = to - 1; i >= from; i--)
            {
                if (_queueCount == _queue.Length) GrowQueue();
                if (--_queueHead < 0) _queueHead = _queue.Length - 1;
                _queue[_queueHead] = _batch[i];
                _batch[i] = default;
                Volatile.Write(ref _queueCount, _queueCount + 1);
            }
        }
        finally
        {
            _queueLock.Exit();
        }
    }

    private void GrowQueue()
    {
        var bigger = new Pending[_queue.Length * 2];
        for (int i = 0; i < _queueCount; i++)
        {
            int j = _queueHead + i;
            if (j >= _queue.Length) j -= _queue.Length;
            bigger[i] = _queue[j];
        }
        _queue = bigger;
        _queueHead = 0;
    }

    private readonly record struct Pending(IRcuCallback Callback, ulong Argument, long SafeAt);
}
