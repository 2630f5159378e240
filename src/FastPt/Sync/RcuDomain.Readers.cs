using System;
using System.Runtime.CompilerServices;
using System.Threading;

namespace FastPt.Sync;

// Reader registration, the per-thread readers of threads without a CPU context, and the grace-period scan.
internal sealed partial class RcuDomain
{
    [ThreadStatic] private static RcuDomain? t_lastDomain;
    [ThreadStatic] private static RcuReader? t_lastReader;

    private readonly ThreadLocal<RcuReader> _threadReader;
    private readonly object _registrationLock = new();
    private RcuReader?[] _readers = new RcuReader?[8];
    private int _readerHighWater;
    private int _registered;

    /// <summary>Readers registered and not disposed.</summary>
    public int RegisteredReaders => Volatile.Read(ref _registered);

    /// <summary>Registers a reader for the calling thread's CPU context. The owner thread is bound at its first
    /// section; dispose it when the context goes away.</summary>
    public RcuReader RegisterReader()
    {
        ThrowIfDisposed();
        return Register(implicitForThread: false);
    }

    /// <summary>The calling thread's own reader (threads without a CPU context: inspection walks, the kernel's
    /// descriptor walks).</summary>
    public RcuReader CurrentThreadReader
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ReferenceEquals(t_lastDomain, this) ? t_lastReader! : CurrentThreadReaderSlow();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private RcuReader CurrentThreadReaderSlow()
    {
        RcuReader reader = _threadReader.Value!;
        t_lastDomain = this;
        t_lastReader = reader;
        return reader;
    }

    /// <summary>Enters a read-side section with the calling thread's reader (<c>rcu_read_lock</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ReadLock() => CurrentThreadReader.Enter();

    /// <summary>Leaves a section entered with <see cref="ReadLock"/> (<c>rcu_read_unlock</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ReadUnlock() => CurrentThreadReader.Exit();

    /// <summary>A section of the calling thread's reader, for a <c>using</c> statement.</summary>
    public RcuReader.Section Read() => CurrentThreadReader.Read();

    /// <summary>True when the calling thread's own reader is inside a section.</summary>
    public bool InReadSection => CurrentThreadReader.InSection;

    private RcuReader Register(bool implicitForThread)
    {
        var reader = new RcuReader(this, implicitForThread);
        lock (_registrationLock)
        {
            SweepExitedThreads();
            int slot = -1;
            for (int i = 0; i < _readerHighWater; i++)
            {
                if (_readers[i] is null)
                {
                    slot = i;
                    break;
                }
            }
            if (slot < 0)
            {
                if (_readerHighWater == _readers.Length)
                {
                    var bigger = new RcuReader?[_readers.Length * 2];
                    Array.Copy(_readers, bigger, _readerHighWater);
                    // Release: a scan that sees the new array sees its copied entries.
                    Volatile.Write(ref _readers, bigger);
                }
                slot = _readerHighWater;
                Volatile.Write(ref _readerHighWater, slot + 1);
            }
            reader.Slot = slot;
            // Release publish. A scan that misses it started after the reader's first announcement could have
            // been seen, which by the class proof means the reader sees every unlink the scan protects.
            Volatile.Write(ref _readers[slot], reader);
            _registered++;
        }
        return reader;
    }

    internal void Unregister(RcuReader reader)
    {
        lock (_registrationLock)
        {
            int slot = reader.Slot;
            if (slot < 0 || !ReferenceEquals(_readers[slot], reader)) return;
            Volatile.Write(ref _readers[slot], null);
            reader.Slot = -1;
            _registered--;
        }
    }

    /// <summary>Unregisters the implicit readers of threads that exited (their thread-local values are gone),
    /// reporting those that exited inside a section. Under the registration lock.</summary>
    private void SweepExitedThreads()
    {
        for (int i = 0; i < _readerHighWater; i++)
        {
            RcuReader? r = _readers[i];
            if (r is null || !r.IsImplicit || !r.OwnerExited) continue;
            if (r.AnnouncedEpoch != 0) ReportAbandoned(r, RcuAbandonment.ThreadExited);
            _readers[i] = null;
            r.Slot = -1;
            _registered--;
        }
    }

    /// <summary>Gives up on a reader that can no longer leave its section, and reports it.</summary>
    internal void ReportAbandoned(RcuReader reader, RcuAbandonment reason)
    {
        if (!reader.TryAbandon(out int nesting)) return;
        Interlocked.Increment(ref _abandonedReaders);
        _observer?.ReaderAbandoned(reader.OwnerThreadId, nesting, reason);
    }

    /// <summary>Waits until every reader is quiescent or announced at least <paramref name="target"/>.</summary>
    private void WaitForReaders(long target)
    {
        RcuReader?[] readers = Volatile.Read(ref _readers);
        int count = Math.Min(Volatile.Read(ref _readerHighWater), readers.Length);
        int self = Environment.CurrentManagedThreadId;
        for (int i = 0; i < count; i++)
        {
            RcuReader? r = Volatile.Read(ref readers[i]);
            if (r is null) continue;
            var spin = new SpinWait();
            while (true)
            {
                long e = r.AnnouncedEpoch;
                if (e == 0 || e >= target) break;
                if (r.OwnerThreadId == self && !r.OwnerExited)
                    throw new InvalidOperationException("synchronize_rcu inside an RCU read-side section of the same thread would wait for itself forever.");
                // A dead thread never leaves its section: detect it instead of waiting forever.
                if (spin.Count >= 32 && (spin.Count & 15) == 0 && r.OwnerExited)
                {
                    ReportAbandoned(r, RcuAbandonment.ThreadExited);
                    break;
                }
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }
    }

    /// <summary>The oldest epoch a reader is still in, or <paramref name="epoch"/> when none lags behind it.</summary>
    private long SafeEpoch(long epoch)
    {
        RcuReader?[] readers = Volatile.Read(ref _readers);
        int count = Math.Min(Volatile.Read(ref _readerHighWater), readers.Length);
        long safe = epoch;
        for (int i = 0; i < count; i++)
        {
            RcuReader? r = Volatile.Read(ref readers[i]);
            if (r is null) continue;
            long e = r.AnnouncedEpoch;
            if (e == 0 || e >= safe) continue;
            if (r.OwnerExited)
            {
                ReportAbandoned(r, RcuAbandonment.ThreadExited);
                continue;
            }
            safe = e;
        }
        return safe;
    }
}
