using System;
using System.Collections.Generic;
using System.Threading;

namespace FastPt.HugeTlb;

/// <summary>One HugeTLB page size (<c>struct hstate</c>): its free list and the counts of
/// <c>/sys/kernel/mm/hugepages/hugepages-*kB/</c>. The list and counts change under the pool's
/// <see cref="HugetlbLock"/>; resizes of one size are serialised by <see cref="ResizeLock"/>
/// (<c>h->resize_lock</c>), which is taken before the pool lock and never while holding it.</summary>
internal sealed class Hstate
{
    public Hstate(int order, PageSize size)
    {
        Order = order;
        Size = size;
    }

    /// <summary>Order of the folios (9 or 18).</summary>
    public int Order { get; }

    /// <summary>The page size.</summary>
    public PageSize Size { get; }

    /// <summary>Head frames of the free folios, most recently freed last (the kernel's list takes from its front,
    /// where it also adds).</summary>
    public readonly List<ulong> FreeList = new();

    /// <summary><c>nr_huge_pages</c>, <c>free_huge_pages</c>, <c>surplus_huge_pages</c>,
    /// <c>nr_overcommit_huge_pages</c>; under the pool lock.</summary>
    public long NrHugePages, FreeHugePages, SurplusHugePages, NrOvercommitHugePages;

    /// <summary>Folios taken from and given back to the buddy allocator (interlocked).</summary>
    public long FoliosAllocated, FoliosFreed;

    /// <summary>The vmemmap optimization's counters for this size.</summary>
    public readonly HvoCounters Counters = new();

    /// <summary><c>h->resize_lock</c>.</summary>
    public readonly Lock ResizeLock = new();

    /// <summary><c>persistent_huge_pages</c>: what <c>nr_hugepages</c> reads.</summary>
    public long Persistent => NrHugePages - SurplusHugePages;
}

/// <summary><c>hugetlb_lock</c>: a spinlock in the kernel, so not reentrant. Taking it again on the same thread is
/// reported as the bug it is (lockdep's "possible recursive locking"), not silently allowed as
/// <see cref="Lock"/> would: the vmemmap restore failure path once re-took it in Linux.</summary>
internal sealed class HugetlbLock
{
    private readonly Lock _lock = new();

    /// <summary>True when the calling thread holds the lock.</summary>
    public bool IsHeldByCurrentThread => _lock.IsHeldByCurrentThread;

    /// <summary>Takes the lock for a <c>using</c>; throws if this thread already holds it.</summary>
    public Scope Enter()
    {
        if (_lock.IsHeldByCurrentThread)
            throw new InvalidOperationException("BUG: recursive locking of hugetlb_lock: the pool lock is a spinlock and is taken only where it is not held");
        _lock.Enter();
        return new Scope(_lock);
    }

    /// <summary>Releases the lock at the end of a <c>using</c>.</summary>
    public readonly ref struct Scope
    {
        private readonly Lock _lock;

        public Scope(Lock held) => _lock = held;

        public void Dispose() => _lock.Exit();
    }
}
