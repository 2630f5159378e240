using System.Runtime.CompilerServices;
using System.Threading;

namespace FastPt.Sync;

/// <summary>A test-and-test-and-set spinlock for critical sections of a few instructions (<c>raw_spinlock_t</c>).
/// Its acquire is an interlocked compare-exchange — a full fence in .NET's memory model on every platform — which
/// callers may rely on (<see cref="RcuDomain.CallRcu"/> does). The lock is four bytes with all-zero meaning free, so it
/// can live inside native memory (a page descriptor's word, <c>page->ptl</c>) reached through a reference. Spinning
/// backs off to yielding, so a preempted
/// holder on a loaded machine costs time slices, not a hang.</summary>
internal struct RawSpinLock
{
    private int _held;

    /// <summary>Acquires the lock (full fence).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Enter()
    {
        if (Interlocked.CompareExchange(ref _held, 1, 0) != 0) EnterContended();
    }

    /// <summary>Acquires the lock if it is free (full fence on success); false, changing nothing, if it is held.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryEnter() => Interlocked.CompareExchange(ref _held, 1, 0) == 0;

    /// <summary>True while some thread holds the lock (a racy snapshot, for assertions and diagnostics).</summary>
    public readonly bool IsHeld => Volatile.Read(ref Unsafe.AsRef(in _held)) != 0;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EnterContended()
    {
        var spin = new SpinWait();
        while (true)
        {
            spin.SpinOnce(sleep1Threshold: -1);
            if (Volatile.Read(ref _held) == 0 && Interlocked.CompareExchange(ref _held, 1, 0) == 0) return;
        }
    }

    /// <summary>Releases the lock (release store: the critical section's accesses are ordered before it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Exit() => Volatile.Write(ref _held, 0);
}
