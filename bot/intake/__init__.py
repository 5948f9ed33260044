"""Reading the shopper's words for the complaint form (投诉登记): remedy, photo evidence."""
from bot.intake.rules import (NO_PREFERENCE, REMEDIES, REMEDY_NAMES_ZH, IntakeConfigError,
                              cannot_photograph, intake_rules, photos_required, rating_of,
                              wanted_remedy)

__all__ = ["NO_PREFERENCE", "REMEDIES", "REMEDY_NAMES_ZH", "IntakeConfigError",
           "cannot_photograph", "intake_rules", "photos_required", "rating_of", "wanted_remedy"]
