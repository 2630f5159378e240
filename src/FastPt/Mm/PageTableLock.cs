using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using FastPt.Sync;

namespace FastPt.Mm;

/// <summary>A separately allocated page-table lock (<c>ALLOC_SPLIT_PTLOCKS</c>, as a kernel with lock debugging
/// has it): the spinlock, its owner, the table it belongs to, and hold-time statistics. 64 bytes, 64 to a slab page
/// of <see cref="PtlockCache"/>; the table's descriptor holds its physical address.</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct PtlockRecord
{
    /// <summary>The lock itself.</summary>
    [FieldOffset(0)] public RawSpinLock Lock;

    /// <summary>Managed thread id of the holder; 0 when free (<c>spinlock_t.owner</c> of DEBUG_SPINLOCK).</summary>
    [FieldOffset(4)] public int Owner;

    /// <summary>Frame of the table the lock belongs to, plus one (0 in a free record): a lock reached through a
    /// stale handle is caught by comparing it.</summary>
    [FieldOffset(8)] public ulong TablePfnPlusOne;

    /// <summary>Acquisitions.</summary>
    [FieldOffset(16)] public long Acquisitions;

    /// <summary>Sum of hold times, in <see cref="Stopwatch"/> ticks.</summary>
    [FieldOffset(32)] public long HoldTicks;

    /// <summary>Longest hold, in <see cref="Stopwatch"/> ticks.</summary>
    [FieldOffset(40)] public long MaxHoldTicks;

    /// <summary><see cref="Stopwatch.GetTimestamp"/> at the current acquisition.</summary>
    [FieldOffset(48)] public long AcquiredAt;
}

/// <summary>A page-table lock as the helpers hand it out (<c>spinlock_t *ptl</c>): a split lock inside a table's
/// descriptor, the address space's <c>page_table_lock</c>, or an allocated lock with owner tracking and hold-time
/// statistics. A value of the default is "no lock" (the helpers return it with a null table).</summary>
internal readonly unsafe ref struct PageTableLock
{
    private readonly ref RawSpinLock _lock;
    private readonly PtlockRecord* _record;
    private readonly SplitPageTableLocks? _locks;
    private readonly ulong _tablePfn;
    private readonly int _level;

    public PageTableLock(ref RawSpinLock spinlock, PtlockRecord* record, SplitPageTableLocks locks, ulong tablePfn, int level)
    {
        _lock = ref spinlock;
        _record = record;
        _locks = locks;
        _tablePfn = tablePfn;
        _level = level;
    }

    /// <summary>True for the default value (no lock).</summary>
    public bool IsNone => Unsafe.IsNullRef(ref _lock);

    /// <summary>True when both are the same lock (in single mode every level shares one): a caller that needs two
    /// levels must take it once (the kernel's <c>if (ptl != pml)</c>).</summary>
    public bool IsSameAs(in PageTableLock other) => Unsafe.AreSame(ref _lock, ref other._lock);

    /// <summary>Takes the lock (<c>spin_lock</c>), counting and tracing contention.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Lock()
    {
        if (_record == null)
        {
            if (!_lock.TryEnter()) _locks!.EnterContended(ref _lock, _tablePfn, _level);
            return;
        }
        LockDebug();
    }

    /// <summary>Releases the lock (<c>spin_unlock</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Unlock()
    {
        if (_record == null)
        {
            _lock.Exit();
            return;
        }
        UnlockDebug();
    }

    // DEBUG_SPINLOCK's checks ("spinlock recursion", "wrong owner") and lock statistics.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void LockDebug()
    {
        int self = Environment.CurrentManagedThreadId;
        if (Volatile.Read(ref _record->Owner) == self)
            throw new InvalidOperationException($"BUG: spinlock recursion on the lock of table pfn 0x{_tablePfn:x}");
        if (!_lock.TryEnter()) _locks!.EnterContended(ref _lock, _tablePfn, _level);
        // Owner-only fields from here on: the lock orders them.
        _record->Owner = self;
        _record->Acquisitions++;
        _record->AcquiredAt = Stopwatch.GetTimestamp();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void UnlockDebug()
    {
        int self = Environment.CurrentManagedThreadId;
        if (_record->Owner != self)
            throw new InvalidOperationException($"BUG: spinlock wrong owner on the lock of table pfn 0x{_tablePfn:x} (held by thread {_record->Owner}, released by {self})");
        long held = Stopwatch.GetTimestamp() - _record->AcquiredAt;
        _record->HoldTicks += held;
        if (held > _record->MaxHoldTicks) _record->MaxHoldTicks = held;
        _record->Owner = 0;
        _lock.Exit();
    }
}
