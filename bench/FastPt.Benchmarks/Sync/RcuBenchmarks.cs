using System;
using System.Threading;
using BenchmarkDotNet.Attributes;
using FastPt.Sync;

namespace FastPt.Benchmarks.Sync;

/// <summary>The read side of the RCU domain: one enter and exit of a section (per operation), against an
/// uncontended <c>lock</c> (the baseline: what a reader would pay for mutual exclusion instead).</summary>
public class RcuReadSideBenchmarks : IDisposable
{
    private const int Operations = 1024;
    private RcuDomain _rcu = null!;
    private RcuReader _reader = null!;
    private readonly Lock _lock = new();
    private readonly object _monitor = new();
    private long _counter;

    /// <summary>A domain and a registered reader (a CPU context's), plus this thread's implicit reader.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _rcu = new RcuDomain();
        _reader = _rcu.RegisterReader();
        _rcu.ReadLock();
        _rcu.ReadUnlock();
    }

    /// <summary>An uncontended <see cref="Lock"/> taken and released.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Operations)]
    public long UncontendedLock()
    {
        for (int i = 0; i < Operations; i++)
        {
            lock (_lock) _counter++;
        }
        return _counter;
    }

    /// <summary>An uncontended monitor (<c>lock (object)</c>) taken and released.</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long UncontendedMonitor()
    {
        for (int i = 0; i < Operations; i++)
        {
            lock (_monitor) _counter++;
        }
        return _counter;
    }

    /// <summary>A section of a registered reader (what a CPU context pays).</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long RegisteredReader()
    {
        RcuReader reader = _reader;
        for (int i = 0; i < Operations; i++)
        {
            reader.Enter();
            _counter++;
            reader.Exit();
        }
        return _counter;
    }

    /// <summary>A section nested inside an open one (no announcement: two field updates).</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long NestedSection()
    {
        RcuReader reader = _reader;
        reader.Enter();
        for (int i = 0; i < Operations; i++)
        {
            reader.Enter();
            _counter++;
            reader.Exit();
        }
        reader.Exit();
        return _counter;
    }

    /// <summary>A section of the calling thread's implicit reader (<see cref="RcuDomain.ReadLock"/>: one
    /// thread-static lookup more).</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long ThreadReader()
    {
        RcuDomain rcu = _rcu;
        for (int i = 0; i < Operations; i++)
        {
            rcu.ReadLock();
            _counter++;
            rcu.ReadUnlock();
        }
        return _counter;
    }

    /// <summary>Frees the domain.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _reader?.Dispose();
        _rcu?.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary><c>call_rcu</c> throughput: queueing callbacks (per callback), with the grace periods and batches
/// they cause included, against queueing onto a locked <see cref="System.Collections.Generic.Queue{T}"/> (the
/// baseline: the cheapest deferral that waits for nobody).</summary>
public class CallRcuBenchmarks : IDisposable
{
    private const int Callbacks = 4096;
    private RcuDomain _rcu = null!;
    private readonly NoOp _callback = new();
    private readonly System.Collections.Generic.Queue<(IRcuCallback, ulong)> _queue = new(Callbacks);
    private readonly Lock _lock = new();

    private sealed class NoOp : IRcuCallback
    {
        public ulong Sum;

        public void Invoke(ulong argument) => Sum += argument;
    }

    /// <summary>A domain whose queue has grown to its working size.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _rcu = new RcuDomain();
        for (int i = 0; i < Callbacks; i++) _rcu.CallRcu(_callback, 1);
        _rcu.Barrier();
    }

    /// <summary>A lock and an enqueue per callback, drained after.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Callbacks)]
    public ulong LockedQueue()
    {
        for (int i = 0; i < Callbacks; i++)
        {
            lock (_lock) _queue.Enqueue((_callback, (ulong)i));
        }
        while (_queue.TryDequeue(out var item)) item.Item1.Invoke(item.Item2);
        return _callback.Sum;
    }

    /// <summary><see cref="RcuDomain.CallRcu"/> per callback (it polls every 64), then a barrier runs the rest.</summary>
    [Benchmark(OperationsPerInvoke = Callbacks)]
    public ulong CallRcu()
    {
        for (int i = 0; i < Callbacks; i++) _rcu.CallRcu(_callback, (ulong)i);
        _rcu.Barrier();
        return _callback.Sum;
    }

    /// <summary>Frees the domain.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _rcu?.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Grace-period latency: one <see cref="RcuDomain.Synchronize"/> with 0, 1 or 2 other threads entering
/// and leaving short sections continuously (on this 2-core machine, 2 readers share the cores with the caller).
/// The baseline is an interlocked increment: the announcement's cost, without waiting for anyone.</summary>
public class GracePeriodBenchmarks : IDisposable
{
    private RcuDomain _rcu = null!;
    private Thread[] _threads = [];
    private volatile bool _stop;
    private long _epoch;

    /// <summary>Readers running sections on other threads.</summary>
    [Params(0, 1, 2)]
    public int Readers { get; set; }

    /// <summary>Starts the reader threads.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _rcu = new RcuDomain();
        _stop = false;
        _threads = new Thread[Readers];
        for (int i = 0; i < Readers; i++)
        {
            _threads[i] = new Thread(ReadContinuously) { IsBackground = true };
            _threads[i].Start();
        }
    }

    /// <summary>A reader thread: short sections, one after another, until stopped.</summary>
    private void ReadContinuously()
    {
        using RcuReader reader = _rcu.RegisterReader();
        long spin = 0;
        while (!_stop)
        {
            reader.Enter();
            for (int k = 0; k < 16; k++) spin++;
            reader.Exit();
        }
        GC.KeepAlive(spin);
    }

    /// <summary>An interlocked increment.</summary>
    [Benchmark(Baseline = true)]
    public long InterlockedIncrement() => Interlocked.Increment(ref _epoch);

    /// <summary>One grace period.</summary>
    [Benchmark]
    public long Synchronize()
    {
        _rcu.Synchronize();
        return _rcu.GracePeriods;
    }

    /// <summary>Stops the readers and frees the domain.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _stop = true;
        foreach (Thread t in _threads) t.Join();
        _rcu?.Dispose();
        GC.SuppressFinalize(this);
    }
}
