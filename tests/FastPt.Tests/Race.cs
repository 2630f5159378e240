using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;

namespace FastPt.Tests;

/// <summary>A count of one side's own events in a <see cref="Race"/>, with the number the side must reach.</summary>
internal sealed class RaceCounter(string name, long target)
{
    private long _value;
    private int _reached;
    private Action? _reachedTarget;

    public string Name { get; } = name;

    public long Target { get; } = target;

    public long Value => Interlocked.Read(ref _value);

    public bool Reached => Value >= Target;

    /// <summary>Counts one event; the race is told once when the target is reached.</summary>
    public void Add()
    {
        if (Interlocked.Increment(ref _value) >= Target && Interlocked.Exchange(ref _reached, 1) == 0) _reachedTarget?.Invoke();
    }

    internal void Attach(Action reachedTarget)
    {
        _reachedTarget = reachedTarget;
        if (Target <= 0 && Interlocked.Exchange(ref _reached, 1) == 0) reachedTarget();
    }

    public override string ToString() => $"{Name} {Value}/{Target}";
}

/// <summary>Racing sides, each on its own thread, that run until every side has done its own counted events (each
/// <see cref="RaceCounter"/> reached its target) — never for a wall-clock time. The sides keep racing until the last
/// counter is reached, so no side runs alone at the end. The timeout only bounds a failure: a side that cannot get
/// there (or the first exception of any side) fails the race, naming every count.</summary>
internal static class Race
{
    /// <summary>Runs <paramref name="sides"/> (each loops until its token is cancelled, counting its events on its
    /// counters) until every one of <paramref name="counters"/> is reached, then stops them and rethrows the first
    /// failure. <paramref name="atLeast"/> asks for a longer run (a soak, from an environment variable).</summary>
    public static void Run(RaceCounter[] counters, Action<CancellationToken>[] sides, TimeSpan? bound = null, TimeSpan atLeast = default)
    {
        using var done = new CountdownEvent(counters.Length);
        using var stop = new CancellationTokenSource();
        foreach (RaceCounter counter in counters) counter.Attach(() => done.Signal());
        Exception? failure = null;
        var threads = new Thread[sides.Length];
        for (int i = 0; i < sides.Length; i++)
        {
            Action<CancellationToken> side = sides[i];
            threads[i] = new Thread(() => RunSide(side)) { Name = $"race side {i}", IsBackground = true };
        }

        void RunSide(Action<CancellationToken> side)
        {
            try
            {
                side(stop.Token);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
                stop.Cancel(); // the others stop too; Wait below wakes on the token
            }
        }

        var watch = Stopwatch.StartNew();
        foreach (Thread thread in threads) thread.Start();
        TimeSpan limit = (bound ?? TimeSpan.FromMinutes(3)) + atLeast;
        bool reached;
        try
        {
            reached = done.Wait(limit, stop.Token);
            if (reached && watch.Elapsed < atLeast) stop.Token.WaitHandle.WaitOne(atLeast - watch.Elapsed);
        }
        catch (OperationCanceledException)
        {
            reached = false; // a side failed
        }
        stop.Cancel();
        foreach (Thread thread in threads) thread.Join();
        if (failure is not null) throw new InvalidOperationException($"a side of the race failed ({string.Join(", ", counters.Select(c => c.ToString()))})", failure);
        if (!reached)
            throw new TimeoutException($"the race did not reach its counts in {limit}: {string.Join(", ", counters.Select(c => c.ToString()))}");
    }
}
