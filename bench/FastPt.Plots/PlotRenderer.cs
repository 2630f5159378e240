using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ScottPlot;

namespace FastPt.Plots;

/// <summary>Draws a <see cref="Chart"/> with ScottPlot and saves it as PNG and SVG. Log scales are drawn as the
/// logarithm of the values with ticks labelled in the values themselves.</summary>
internal static class PlotRenderer
{
    public const int Width = 960;
    public const int Height = 600;

    /// <summary>Writes <c>NAME.png</c> and <c>NAME.svg</c> into <paramref name="directory"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Save(Chart chart, string directory)
    {
        ArgumentNullException.ThrowIfNull(chart);
        Plot plot = Build(chart);
        string png = Path.Combine(directory, chart.Name + ".png");
        string svg = Path.Combine(directory, chart.Name + ".svg");
        plot.SavePng(png, Width, Height);
        plot.SaveSvg(svg, Width, Height);
        return [png, svg];
    }

    private static Plot Build(Chart chart)
    {
        var plot = new Plot();
        Func<double, double> x = chart.LogX ? Math.Log2 : value => value;
        Func<double, double> y = chart.LogY ? Math.Log10 : value => value;
        var palette = new ScottPlot.Palettes.Category10();
        string[] groups = chart.Series.Select(series => series.Group ?? series.Name).Distinct().ToArray();
        foreach (Series series in chart.Series)
        {
            double[] xs = series.X.Select(x).ToArray();
            double[] ys = series.Y.Select(y).ToArray();
            // Error bars in the drawn scale: on a log axis the distance to log(value ± error).
            double[] below = series.Y.Select((value, i) => ys[i] - y(Math.Max(value - series.ErrorBelow[i], value * 1e-3))).ToArray();
            double[] above = series.Y.Select((value, i) => y(value + series.ErrorAbove[i]) - ys[i]).ToArray();
            var scatter = plot.Add.Scatter(xs, ys);
            scatter.LegendText = series.Name;
            scatter.Color = palette.GetColor(Array.IndexOf(groups, series.Group ?? series.Name));
            scatter.MarkerShape = series.Squares ? MarkerShape.FilledSquare : MarkerShape.FilledCircle;
            scatter.LineWidth = 2;
            scatter.MarkerSize = 8;
            if (series.Baseline)
            {
                scatter.LinePattern = LinePattern.Dashed;
                scatter.MarkerShape = series.Squares ? MarkerShape.OpenSquare : MarkerShape.OpenCircle;
            }
            if (below.Any(value => value > 0) || above.Any(value => value > 0))
            {
                var bars = plot.Add.ErrorBar(xs, ys, above);
                bars.YErrorNegative = below;
                bars.Color = scatter.Color;
                bars.LineWidth = 1;
            }
        }
        if (chart.Goal is { } goal)
        {
            var line = plot.Add.HorizontalLine(y(goal));
            line.LegendText = chart.GoalLabel ?? "goal";
            line.Color = Colors.Black;
            line.LinePattern = LinePattern.Dotted;
            line.LineWidth = 2;
        }
        plot.Title(chart.Title);
        // The caption (CPU, date) is the second line under the X axis, in plain type so that it fits.
        plot.XLabel(chart.XLabel + "\n" + chart.Caption, 13);
        plot.Axes.Bottom.Label.Bold = false;
        plot.YLabel(chart.YLabel);
        double[] xValues = chart.Series.SelectMany(series => series.X).Distinct().Order().ToArray();
        if (chart.LogX || xValues.Length <= 12)
            plot.Axes.Bottom.SetTicks(xValues.Select(x).ToArray(), xValues.Select(chart.XFormat).ToArray());
        if (chart.LogY)
        {
            double[] yValues = chart.Series.SelectMany(series => series.Y).Where(value => value > 0).ToArray();
            double[] ticks = DecadeTicks(yValues.Min(), yValues.Max());
            plot.Axes.Left.SetTicks(ticks.Select(Math.Log10).ToArray(), ticks.Select(Number).ToArray());
        }
        else
        {
            double top = chart.Series.SelectMany(series => series.Y.Select((value, i) => value + series.ErrorAbove[i])).Max();
            plot.Axes.SetLimitsY(0, Math.Max(top, chart.Goal ?? 0) * 1.15);
        }
        // A little room on both sides of the outermost points.
        double left = xValues.Select(x).Min(), right = xValues.Select(x).Max();
        double pad = Math.Max((right - left) * 0.06, 0.5);
        plot.Axes.SetLimitsX(left - pad, right + pad);
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    /// <summary>Writes a goal chart as <c>NAME.png</c> and <c>NAME.svg</c>: one row per goal, the figure divided
    /// by its bound on a log scale (the bound is the line at 1), its 99.9% interval as a bar, green when the
    /// whole interval meets the goal, red when it misses it, orange when the interval straddles the bound. Taller
    /// than the curves (<see cref="GoalHeight"/>) so that every row keeps its label.</summary>
    public static IReadOnlyList<string> Save(GoalChart chart, string directory)
    {
        ArgumentNullException.ThrowIfNull(chart);
        var plot = new Plot();
        int count = chart.Rows.Count;
        for (int i = 0; i < count; i++)
        {
            GoalRow row = chart.Rows[i];
            double at = count - 1 - i; // the first goal on top
            double x = Math.Log10(row.Value / row.Bound);
            double low = Math.Log10(Math.Max(row.Low, row.Value * 1e-3) / row.Bound), high = Math.Log10(row.High / row.Bound);
            Color color = row.Verdict switch { "met" => Colors.Green, "missed" => Colors.Red, _ => Colors.DarkOrange };
            var point = plot.Add.Scatter(new[] { x }, new[] { at });
            point.Color = color;
            point.MarkerShape = MarkerShape.FilledCircle;
            point.MarkerSize = 9;
            point.LineWidth = 0;
            var bar = plot.Add.ErrorBar(new[] { x }, new[] { at }, [0.0]);
            bar.XErrorNegative = [x - low];
            bar.XErrorPositive = [high - x];
            bar.Color = color;
            bar.LineWidth = 2;
            var text = plot.Add.Text($"{Figure(row.Value, row.Unit)} ({Figure(row.Low, row.Unit)}–{Figure(row.High, row.Unit)}) {row.Verdict}", high, at);
            text.LabelFontSize = 11;
            text.LabelFontColor = color;
            text.LabelAlignment = Alignment.MiddleLeft;
            text.OffsetX = 6;
        }
        var line = plot.Add.VerticalLine(0);
        line.Color = Colors.Black;
        line.LinePattern = LinePattern.Dashed;
        line.LineWidth = 2;
        plot.Title(chart.Title);
        plot.XLabel("measured ÷ goal (log scale; left of the dashed line meets the goal)\n" + chart.Caption, 13);
        plot.Axes.Bottom.Label.Bold = false;
        plot.Axes.Left.SetTicks(Enumerable.Range(0, count).Select(i => (double)(count - 1 - i)).ToArray(), chart.Rows.Select(row => row.Label).ToArray());
        double[] ends = chart.Rows.SelectMany(row => new[] { row.Low / row.Bound, row.High / row.Bound }).Where(v => v > 0).Append(1).ToArray();
        double[] ticks = DecadeTicks(ends.Min(), ends.Max());
        plot.Axes.Bottom.SetTicks(ticks.Select(Math.Log10).ToArray(), ticks.Select(Number).ToArray());
        // Room on the right for the figures written beside each bar.
        double left = Math.Log10(ends.Min()), right = Math.Log10(ends.Max());
        plot.Axes.SetLimitsX(left - 0.1, right + Math.Max((right - left) * 0.45, 0.4));
        plot.Axes.SetLimitsY(-0.7, count - 0.3);
        string png = Path.Combine(directory, chart.Name + ".png");
        string svg = Path.Combine(directory, chart.Name + ".svg");
        int height = GoalHeight(count);
        plot.SavePng(png, GoalWidth, height);
        plot.SaveSvg(svg, GoalWidth, height);
        return [png, svg];
    }

    public const int GoalWidth = 1280;

    /// <summary>The height of a goal chart of <paramref name="rows"/> rows: 26 pixels a row, at least 600.</summary>
    public static int GoalHeight(int rows) => Math.Max(Height, 160 + 26 * rows);

    private static string Figure(double value, string unit) =>
        unit == "ns" ? value.ToString("0.00", CultureInfo.InvariantCulture) + " ns" : value.ToString("0.00", CultureInfo.InvariantCulture) + "×";

    /// <summary>1-2-5 ticks from below <paramref name="min"/> to above <paramref name="max"/>.</summary>
    public static double[] DecadeTicks(double min, double max)
    {
        var ticks = new List<double>();
        double decade = Math.Pow(10, Math.Floor(Math.Log10(min)));
        while (decade <= max * 10)
        {
            foreach (double step in new[] { 1.0, 2.0, 5.0 })
            {
                double tick = decade * step;
                if (tick >= min / 2.5 && tick <= max * 2.5) ticks.Add(tick);
            }
            decade *= 10;
        }
        return ticks.ToArray();
    }

    private static string Number(double value) => value.ToString(value >= 1 ? "#,0.##" : "0.###", CultureInfo.InvariantCulture);
}
