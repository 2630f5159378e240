using System;
using System.IO;
using FastPt.Cli.Rendering;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary>Where a command writes, whether a person is watching a terminal (which enables live progress) and how
/// wide the output may be.</summary>
/// <param name="Output">Standard output.</param>
/// <param name="Error">Standard error.</param>
/// <param name="Interactive">True when output goes to a terminal.</param>
/// <param name="Width">Columns of output: the terminal's width, or for redirected output <c>COLUMNS</c> or
/// <see cref="CliTerminal.RedirectedWidth"/>.</param>
internal sealed record CliEnvironment(TextWriter Output, TextWriter Error, bool Interactive, int Width = CliTerminal.RedirectedWidth)
{
    /// <summary>A Spectre console over <see cref="Output"/>.</summary>
    public IAnsiConsole CreateConsole() => ConsoleFactory.Create(Output, Interactive, Width);

    /// <summary>Runs <paramref name="work"/>; on a terminal a spinner with the elapsed time says what is going on
    /// (anything that may take over a second goes through here). Redirected output gets nothing.</summary>
    public T WithStatus<T>(string description, Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (!Interactive) return work();
        T result = default!;
        CreateConsole().Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(new SpinnerColumn(), new TaskDescriptionColumn { Alignment = Justify.Left }, new ElapsedTimeColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask(Markup.Escape(description), maxValue: 1);
                task.IsIndeterminate = true;
                result = work();
                task.Value = task.MaxValue;
            });
        return result;
    }
}

/// <summary>What the output is written to: a terminal or not, and its width.</summary>
/// <param name="Interactive">True for a terminal (colours, live progress).</param>
/// <param name="Width">Columns available.</param>
internal readonly record struct CliTerminal(bool Interactive, int Width)
{
    /// <summary>Width of redirected output when <c>COLUMNS</c> does not say.</summary>
    public const int RedirectedWidth = 120;

    /// <summary>Narrowest width honoured; below it tables could not show a number and its label side by side.</summary>
    public const int MinimumWidth = 20;

    /// <summary>Redirected output (files, pipes, tests) at <see cref="RedirectedWidth"/>.</summary>
    public static CliTerminal Redirected => new(false, RedirectedWidth);

    /// <summary>The process's own standard output: a terminal's width, or <c>COLUMNS</c> when redirected.</summary>
    public static CliTerminal Detect()
    {
        if (!Console.IsOutputRedirected)
        {
            int width;
            try
            {
                width = Console.WindowWidth;
            }
            catch (IOException)
            {
                width = 0;
            }
            return new CliTerminal(true, width > 0 ? Math.Max(width, MinimumWidth) : RedirectedWidth);
        }
        return new CliTerminal(false, WidthFromColumns(Environment.GetEnvironmentVariable("COLUMNS")));
    }

    /// <summary>The width a <c>COLUMNS</c> value asks for: a whole number of columns, at least
    /// <see cref="MinimumWidth"/>; <see cref="RedirectedWidth"/> when it is absent or not a number.</summary>
    public static int WidthFromColumns(string? columns) =>
        int.TryParse(columns, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int width) && width > 0
            ? Math.Clamp(width, MinimumWidth, 10_000)
            : RedirectedWidth;
}
