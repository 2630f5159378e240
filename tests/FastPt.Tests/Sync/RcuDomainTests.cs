using System;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Threading;
using FastPt.Sync;
using Xunit;

namespace FastPt.Tests.Sync;

/// <summary>The RCU domain on its own: sections, grace periods, callbacks, batches, and the readers that never
/// leave their sections.</summary>
public class RcuDomainTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private sealed class Recorder : IRcuObserver
    {
        public readonly ConcurrentQueue<(int Thread, int Nesting, RcuAbandonment Reason)> Abandoned = new();
        public int GracePeriodEvents;
        public int CallbacksReported;

        public void GracePeriodEnded(long gracePeriods, int callbacks)
        {
            Interlocked.Increment(ref GracePeriodEvents);
            Interlocked.Add(ref CallbacksReported, callbacks);
        }

        public void ReaderAbandoned(int threadId, int nesting, RcuAbandonment reason) => Abandoned.Enqueue((threadId, nesting, reason));
    }

    private sealed class Counting : IRcuCallback
    {
        public int Calls;
        public ulong Sum;

        public void Invoke(ulong argument)
        {
            Interlocked.Increment(ref Calls);
            Interlocked.Add(ref Sum, argument);
        }
    }

    [Fact]
    public void Nested_sections_announce_once_and_leave_at_the_outermost_exit()
    {
        using var rcu = new RcuDomain();
        using RcuReader reader = rcu.RegisterReader();
        var callback = new Counting();
        reader.Enter();
        reader.Enter();
        Assert.Equal(2, reader.Nesting);
        rcu.CallRcu(callback, 1);
        reader.Exit();
        Assert.True(reader.InSection);
        Assert.Equal(0, rcu.Poll()); // the outer section still holds the grace period
        Assert.Equal(0, callback.Calls);
        reader.Exit();
        Assert.False(reader.InSection);
        rcu.Poll();
        Assert.Equal(1, callback.Calls);
    }

    [Fact]
    public void A_callback_waits_for_a_reader_that_entered_before_it_was_queued()
    {
        using var rcu = new RcuDomain();
        using RcuReader reader = rcu.RegisterReader();
        var callback = new Counting();
        using (reader.Read())
        {
            rcu.CallRcu(callback, 7);
            for (int i = 0; i < 3; i++) Assert.Equal(0, rcu.Poll());
        }
        // A reader that enters after the callback was queued does not hold it up.
        using (reader.Read())
        {
            Assert.Equal(1, rcu.Poll());
        }
        Assert.Equal(7UL, callback.Sum);
        Assert.Equal(1L, rcu.CallbacksInvoked);
    }

    [Fact]
    public void A_grace_period_waits_for_a_thread_parked_in_a_section_and_ends_when_it_leaves()
    {
        using var rcu = new RcuDomain();
        using var inside = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        var reader = new Thread(() =>
        {
            rcu.ReadLock();
            inside.Set();
            leave.Wait();
            rcu.ReadUnlock();
        });
        reader.Start();
        Assert.True(inside.Wait(Bound, TestContext.Current.CancellationToken));
        long epochBefore = rcu.Epoch;
        long gracePeriods = rcu.GracePeriods;
        Thread synchronize = Start(rcu.Synchronize);
        // Once the epoch moved, Synchronize is scanning: it cannot finish while the reader is inside.
        SpinWait.SpinUntil(() => rcu.Epoch > epochBefore, Bound);
        Assert.True(rcu.Epoch > epochBefore);
        Assert.True(synchronize.IsAlive);
        Assert.Equal(gracePeriods, rcu.GracePeriods);
        leave.Set();
        Assert.True(synchronize.Join(Bound));
        Assert.Equal(gracePeriods + 1, rcu.GracePeriods);
        reader.Join();
        Assert.Equal(0, rcu.AbandonedReaders);
    }

    [Fact]
    public void A_thread_that_exits_inside_a_section_is_reported_not_waited_for()
    {
        var recorder = new Recorder();
        using var rcu = new RcuDomain(recorder);
        var callback = new Counting();
        int threadId = 0;
        var reader = new Thread(() =>
        {
            threadId = Environment.CurrentManagedThreadId;
            rcu.ReadLock();
            rcu.ReadLock(); // exits two levels deep
        });
        reader.Start();
        reader.Join();
        rcu.CallRcu(callback, 1);
        Thread synchronize = Start(rcu.Synchronize);
        Assert.True(synchronize.Join(Bound), "a dead reader blocked the grace period");
        Assert.Equal(1, callback.Calls);
        Assert.Equal(1, rcu.AbandonedReaders);
        Assert.True(recorder.Abandoned.TryDequeue(out var report));
        Assert.Equal((threadId, 2, RcuAbandonment.ThreadExited), report);
    }

    [Fact]
    public void Poll_alone_detects_a_thread_that_exited_inside_a_section()
    {
        var recorder = new Recorder();
        using var rcu = new RcuDomain(recorder);
        var callback = new Counting();
        var reader = new Thread(() => rcu.ReadLock());
        reader.Start();
        reader.Join();
        rcu.CallRcu(callback, 1);
        rcu.Poll();
        Assert.Equal(1, callback.Calls);
        Assert.Single(recorder.Abandoned);
    }

    [Fact]
    public void A_reader_disposed_inside_a_section_is_reported_and_releases_the_grace_period()
    {
        var recorder = new Recorder();
        using var rcu = new RcuDomain(recorder);
        using var inside = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        RcuReader reader = rcu.RegisterReader();
        Exception? afterDispose = null;
        var owner = new Thread(() =>
        {
            reader.Enter();
            inside.Set();
            leave.Wait();
            reader.Exit(); // the section the owner was in ends normally
            try { reader.Enter(); }
            catch (ObjectDisposedException e) { afterDispose = e; }
        });
        owner.Start();
        Assert.True(inside.Wait(Bound, TestContext.Current.CancellationToken));
        reader.Dispose(); // e.g. a CPU context disposed by another thread while its owner is inside a walk
        Thread synchronize = Start(rcu.Synchronize);
        Assert.True(synchronize.Join(Bound), "a disposed reader blocked the grace period");
        leave.Set();
        owner.Join();
        Assert.IsType<ObjectDisposedException>(afterDispose);
        Assert.Equal(1, rcu.AbandonedReaders);
        Assert.True(recorder.Abandoned.TryDequeue(out var report));
        Assert.Equal(RcuAbandonment.DisposedInSection, report.Reason);
        Assert.Equal(1, report.Nesting);
        Assert.Equal(0, rcu.RegisteredReaders);
        Assert.Throws<ObjectDisposedException>(reader.Enter);
    }

    [Fact]
    public void Misuse_is_a_clear_error()
    {
        using var rcu = new RcuDomain();
        using RcuReader reader = rcu.RegisterReader();
        var exit = Assert.Throws<InvalidOperationException>(reader.Exit);
        Assert.Contains("never entered", exit.Message, StringComparison.Ordinal);
        Assert.Equal(0, reader.Nesting);
        Assert.Throws<InvalidOperationException>(rcu.ReadUnlock);
        reader.Enter();
        Assert.Throws<InvalidOperationException>(rcu.Synchronize); // would wait for itself
        reader.Exit();
        rcu.Synchronize();
    }

    [Fact]
    public void Callbacks_run_in_bounded_batches_and_barrier_runs_them_all()
    {
        var recorder = new Recorder();
        using var rcu = new RcuDomain(recorder, callbackBatchLimit: 4);
        var callback = new Counting();
        for (int i = 1; i <= 10; i++) rcu.CallRcu(callback, (ulong)i);
        rcu.Synchronize();
        Assert.Equal(4, callback.Calls);
        Assert.Equal(6, rcu.PendingCallbacks);
        Assert.Equal(4, rcu.Poll());
        rcu.Barrier();
        Assert.Equal(10, callback.Calls);
        Assert.Equal(55UL, callback.Sum);
        Assert.Equal(3L, rcu.CallbackBatches);
        Assert.Equal(3, recorder.GracePeriodEvents);
        Assert.Equal(10, recorder.CallbacksReported);
        Assert.Equal(rcu.CallbacksQueued, rcu.CallbacksInvoked);
    }

    private sealed class Redeferring(RcuDomain rcu) : IRcuCallback
    {
        public int First, Second;
        public long EpochAtFirst, EpochAtSecond;

        public void Invoke(ulong argument)
        {
            if (argument == 0)
            {
                First++;
                EpochAtFirst = rcu.Epoch;
                rcu.CallRcu(this, 1); // a callback queueing again, as pte_free_now re-defers
            }
            else
            {
                Second++;
                EpochAtSecond = rcu.Epoch;
            }
        }
    }

    [Fact]
    public void A_callback_may_queue_again_and_waits_a_full_grace_period()
    {
        using var rcu = new RcuDomain();
        var callback = new Redeferring(rcu);
        rcu.CallRcu(callback, 0);
        rcu.Synchronize();
        Assert.Equal(1, callback.First);
        Assert.Equal(0, callback.Second); // queued during the pass: not safe in the same grace period
        rcu.Barrier();
        Assert.Equal(1, callback.Second);
        Assert.True(callback.EpochAtSecond > callback.EpochAtFirst);
    }

    [Fact]
    public void Sections_and_call_rcu_allocate_nothing()
    {
        using var rcu = new RcuDomain();
        using RcuReader reader = rcu.RegisterReader();
        var callback = new Counting();
        for (int i = 0; i < 2048; i++) rcu.CallRcu(callback, 1); // grow the queue to its working size
        rcu.Barrier();
        rcu.ReadLock();
        rcu.ReadUnlock();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            reader.Enter();
            reader.Enter();
            reader.Exit();
            reader.Exit();
            rcu.ReadLock();
            rcu.ReadUnlock();
            rcu.CallRcu(callback, 1);
        }
        rcu.Barrier();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    /// <summary>Readers follow a shared pointer to a native block and check its content; a writer swaps in a new
    /// block and frees the old one with <c>CallRcu</c>, poisoning it. A reader that saw poison read a block freed
    /// while it could still hold it. Every block queued is freed (the counts balance).</summary>
    private sealed unsafe class Retire : IRcuCallback
    {
        public const ulong Live = 0x1111_2222_3333_4444, Poison = 0x6b6b_6b6b_6b6b_6b6b;
        public long Freed;
        public readonly ConcurrentBag<nint> Pool = new();

        public void Invoke(ulong argument)
        {
            ulong* block = (ulong*)argument;
            for (int i = 0; i < 8; i++) Volatile.Write(ref block[i], Poison);
            Pool.Add((nint)block);
            Interlocked.Increment(ref Freed);
        }
    }

    [Fact]
    public unsafe void Readers_never_see_a_block_freed_after_a_grace_period()
    {
        int milliseconds = int.TryParse(Environment.GetEnvironmentVariable("FASTPT_STRESS_SECONDS"), out int s) ? s * 1000 : 1500;
        using var rcu = new RcuDomain(callbackBatchLimit: 16);
        var retire = new Retire();
        const int Blocks = 64;
        var all = new nint[Blocks];
        for (int i = 0; i < Blocks; i++)
        {
            all[i] = (nint)NativeMemory.AlignedAlloc(64, 64);
            retire.Pool.Add(all[i]);
        }
        try
        {
            nint current = Take(rcu, retire);
            long poisonSeen = 0, reads = 0, swaps = 0;
            using var stop = new CancellationTokenSource();
            var readers = new Thread[3];
            for (int r = 0; r < readers.Length; r++)
            {
                readers[r] = Start(() =>
                {
                    using RcuReader reader = rcu.RegisterReader();
                    long local = 0;
                    while (!stop.IsCancellationRequested)
                    {
                        reader.Enter();
                        ulong* block = (ulong*)Volatile.Read(ref current);
                        for (int i = 0; i < 8; i++)
                            if (Volatile.Read(ref block[i]) != Retire.Live) Interlocked.Increment(ref poisonSeen);
                        reader.Exit();
                        local++;
                    }
                    Interlocked.Add(ref reads, local);
                });
            }
            Thread writer = Start(() =>
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while (clock.ElapsedMilliseconds < milliseconds)
                {
                    nint next = Take(rcu, retire);
                    nint old = Interlocked.Exchange(ref current, next);
                    rcu.CallRcu(retire, (ulong)old);
                    swaps++;
                    if ((swaps & 7) == 0) rcu.Synchronize();
                }
                stop.Cancel();
            });
            Assert.True(writer.Join(Bound + TimeSpan.FromMilliseconds(milliseconds)));
            foreach (Thread t in readers) Assert.True(t.Join(Bound));
            rcu.Barrier();
            Assert.Equal(0, poisonSeen);
            Assert.True(reads > 0 && swaps > 0);
            Assert.Equal(swaps, retire.Freed);
            Assert.Equal(rcu.CallbacksQueued, rcu.CallbacksInvoked);
            Assert.Equal(Blocks - 1, retire.Pool.Count); // all but the current one came back
        }
        finally
        {
            foreach (nint block in all) NativeMemory.AlignedFree((void*)block);
        }
    }

    private static Thread Start(Action body)
    {
        var thread = new Thread(() => body()) { IsBackground = true };
        thread.Start();
        return thread;
    }

    private static unsafe nint Take(RcuDomain rcu, Retire retire)
    {
        nint block;
        var spin = new SpinWait();
        while (!retire.Pool.TryTake(out block))
        {
            rcu.Poll();
            spin.SpinOnce();
        }
        for (int i = 0; i < 8; i++) ((ulong*)block)[i] = Retire.Live;
        return block;
    }
}
