using System;
using System.Threading;
using FastPt.Geometry;
using FastPt.Sync;

namespace FastPt.Mm;

/// <summary>The refcount scheme behind <c>pte_fragment_free</c> and <c>pte_free_defer</c> for page-table blocks
/// whose fragments share one RCU head. Both implementations keep the same promises: a block is freed exactly
/// once, never while one of its fragments is a live table, and only after a grace period that began after every
/// deferral of one of its fragments; the shared head is queued at most once at a time.</summary>
internal interface IPteFreeDeferScheme
{
    /// <summary>Which scheme this is.</summary>
    PteFreeDeferScheme Kind { get; }

    /// <summary>A retired fragment's reference becomes a deferral (<c>pte_free_defer</c>). True when this call
    /// queued the block's RCU head.</summary>
    bool Defer(ulong head);

    /// <summary>Drops <paramref name="count"/> references (<c>pte_fragment_free</c>; the unused fragments at
    /// <c>pte_frag_destroy</c>); the last one frees the block, or queues it for after a grace period.</summary>
    void DropReferences(ulong head, int count);
}

/// <summary>What both schemes share: the RCU head in the block's descriptor and the block's free.</summary>
internal abstract unsafe class PteFreeDefer : IPteFreeDeferScheme, IRcuCallback
{
    /// <summary><see cref="PageDescriptor.RcuFunc"/> while the merged scheme's <c>pte_free_now</c> is queued.</summary>
    public const ulong MergedFreeNow = 1;

    /// <summary><see cref="PageDescriptor.RcuFunc"/> while the seed scheme's <c>pte_free_now</c> is queued.</summary>
    public const ulong DeferredFreeNow = 2;

    private readonly ulong _func;

    protected PteFreeDefer(MemoryManager memory, int order, ulong func)
    {
        Memory = memory;
        Order = order;
        _func = func;
    }

    protected MemoryManager Memory { get; }

    protected int Order { get; }

    private long BlockBytes => (long)Paging.PageSize << Order;

    public abstract PteFreeDeferScheme Kind { get; }

    public abstract bool Defer(ulong head);

    public abstract void DropReferences(ulong head, int count);

    protected ref int RefCount(ulong head) => ref Memory.Memmap.GetMutable(head)->FragmentRefCount;

    /// <summary><c>call_rcu(&amp;ptdesc->pt_rcu_head, pte_free_now)</c>. The head must be free: a second queueing
    /// of one head (the bug of a naive per-fragment <c>call_rcu</c> on a shared head) throws.</summary>
    protected void QueueHead(ulong head)
    {
        PageDescriptor* d = Memory.Memmap.GetMutable(head);
        if (Interlocked.CompareExchange(ref d->RcuFunc, _func, 0) != 0)
            throw new InvalidOperationException($"the RCU head of page-table block 0x{head:x} was queued while already queued");
        d->RcuNext = (ulong)Memory.Rcu.Epoch;
        Vmstat.Add(ref Memory.Stat.DeferredHeadsQueued, 1);
        Vmstat.Add(ref Memory.Stat.RcuPendingTableBytes, BlockBytes);
        // CallRcu's lock acquire orders the head's stores before the callback, which runs after dequeuing.
        Memory.Rcu.CallRcu(this, head);
    }

    /// <summary>The RCU callback: the head is free again before the scheme's work runs (which may queue it anew).</summary>
    public void Invoke(ulong head)
    {
        PageDescriptor* d = Memory.Memmap.GetMutable(head);
        if (d->RcuFunc != _func)
            throw new InvalidOperationException($"RCU callback for page-table block 0x{head:x} found head function {d->RcuFunc}, expected {_func}");
        d->RcuNext = 0;
        Volatile.Write(ref d->RcuFunc, 0);
        Vmstat.Add(ref Memory.Stat.RcuPendingTableBytes, -BlockBytes);
        AfterGracePeriod(head);
    }

    /// <summary>The scheme's <c>pte_free_now</c>.</summary>
    protected abstract void AfterGracePeriod(ulong head);

    /// <summary>Frees a block whose refcount reached zero.</summary>
    protected void FreeBlock(ulong head, bool afterGracePeriod)
    {
        if (afterGracePeriod) Vmstat.Add(ref Memory.Stat.DeferredBlocksFreed, 1);
        Memory.PageTables.DestructPteBlock(head, Order, unused: 0);
    }

    protected void DropOrThrow(ulong head, int count, out int left)
    {
        left = Interlocked.Add(ref RefCount(head), -count);
        if (left < 0) throw new InvalidOperationException($"pt_frag_refcount of page-table block 0x{head:x} went negative");
    }
}

/// <summary>The scheme Linux merged (powerpc <c>pte_fragment_free</c> / <c>pte_free_defer</c>): a deferral sets
/// PG_active on the block and drops its fragment's reference at once; whoever drops the last reference of an
/// active block — a deferral, a plain free after the gather, or the cursor's teardown — clears the mark and queues
/// the head; without the mark the block is freed immediately. Fragments are never reused, so a deferred fragment's
/// memory stays untouched until the block goes, one grace period after its last reference. No re-deferral exists.</summary>
internal sealed class MarkAndDeferScheme(MemoryManager memory, int order) : PteFreeDefer(memory, order, MergedFreeNow)
{
    public override PteFreeDeferScheme Kind => PteFreeDeferScheme.MarkAndDeferAtLastReference;

    public override unsafe bool Defer(ulong head)
    {
        // The mark before the drop (both interlocked, so ordered): the thread whose drop reaches zero sees it.
        Interlocked.Or(ref Memory.Memmap.GetMutable(head)->Flags, PageFlags.Active);
        return Drop(head, 1);
    }

    public override void DropReferences(ulong head, int count) => Drop(head, count);

    private unsafe bool Drop(ulong head, int count)
    {
        DropOrThrow(head, count, out int left);
        if (left != 0) return false;
        // folio_test_clear_active: only the last reference gets here, so the mark is read and cleared once.
        ulong before = Interlocked.And(ref Memory.Memmap.GetMutable(head)->Flags, ~PageFlags.Active);
        if ((before & PageFlags.Active) == 0)
        {
            FreeBlock(head, afterGracePeriod: false);
            return false;
        }
        QueueHead(head);
        return true;
    }

    protected override void AfterGracePeriod(ulong head) => FreeBlock(head, afterGracePeriod: true);
}

/// <summary>The seed's <c>PTE_FREE_DEFERRED</c> scheme (Hugh Dickins' powerpc patch of 2023): a deferral turns its
/// fragment's reference of 1 into 0x10000; the deferral that finds no other pending queues the shared head, later
/// ones only count. After the grace period the callback takes its own deferral back to a plain reference; if more
/// deferrals arrived meanwhile it folds them all into one and queues the head once more (a re-deferral: one more
/// grace period however many came), else it drops the reference like <c>pte_fragment_free</c>.</summary>
internal sealed class DeferredRefcountScheme(MemoryManager memory, int order) : PteFreeDefer(memory, order, DeferredFreeNow)
{
    /// <summary>Beyond any fragment count (<c>PTE_FREE_DEFERRED</c>).</summary>
    public const int Deferred = 0x10000;

    public override PteFreeDeferScheme Kind => PteFreeDeferScheme.DeferredRefcount;

    public override bool Defer(ulong head)
    {
        // Only the first pending deferral lands below two units: it alone queues the head.
        if (Interlocked.Add(ref RefCount(head), Deferred - 1) >= Deferred + Deferred) return false;
        QueueHead(head);
        return true;
    }

    public override void DropReferences(ulong head, int count)
    {
        DropOrThrow(head, count, out int left);
        if (left == 0) FreeBlock(head, afterGracePeriod: false);
    }

    protected override void AfterGracePeriod(ulong head)
    {
        ref int refCount = ref RefCount(head);
        int left = Interlocked.Add(ref refCount, -(Deferred - 1));
        if (left < Deferred)
        {
            // No deferral arrived during the grace period: this one's reference goes like a plain free.
            DropOrThrow(head, 1, out left);
            if (left == 0) FreeBlock(head, afterGracePeriod: true);
            return;
        }
        // Deferrals arrived while this one waited: they need a grace period of their own, one for all of them.
        // Each folded deferral takes its whole 0x10000 (its reference included); one stays pending.
        while (left >= Deferred + Deferred) left = Interlocked.Add(ref refCount, -Deferred);
        // The reference of 1 this callback's own deferral still held.
        DropOrThrow(head, 1, out _);
        Vmstat.Add(ref Memory.Stat.Redeferrals, 1);
        Diagnostics.FastPtEventSource.Log.TableRedeferred(head, Vmstat.Read(ref Memory.Stat.Redeferrals));
        QueueHead(head);
    }
}
