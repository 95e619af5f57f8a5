// Types for vader-sentiment 1.1.3 (the package ships none): the VADER analyzer, a pure function of the text.
declare module "vader-sentiment" {
  export interface PolarityScores {
    /** Shares of negative, neutral and positive words, summing to 1. */
    neg: number;
    neu: number;
    pos: number;
    /** Normalised sum of valences in [-1, 1]. */
    compound: number;
  }
  export const SentimentIntensityAnalyzer: { polarity_scores(text: string): PolarityScores };
}
